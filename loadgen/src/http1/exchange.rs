//! One HTTP/1.1 request/response over an open connection: one `write_all` of the request,
//! then reads into a buffer reused across requests and connections until the response is
//! complete. No pipelining: the next request waits for this response. The reads are
//! also offered without I/O ([`Exchange::begin`], [`Exchange::spare`],
//! [`Exchange::filled`]) for a driver that submits its own, as [`crate::uring`] does.

use super::response::{MAX_HEAD, ParseError, Response, ResponseParser};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The read buffer's first size: a typical response head fits.
const INITIAL_BUFFER: usize = 4096;
/// The read buffer grows (doubling, once per worker and workload) up to this, enough
/// for the largest head plus the partial line that proves it too large.
const MAX_BUFFER: usize = 2 * MAX_HEAD;

/// Why an exchange gave no complete response. The connection is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Writing or reading failed.
    #[error("connection I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before the response was complete.
    #[error("connection closed before a complete response")]
    Closed,
    /// The response broke HTTP/1.x framing.
    #[error("malformed response: {0}")]
    Parse(#[from] ParseError),
}

/// A worker's reusable exchange state: the read buffer and the parser.
#[derive(Debug)]
pub struct Exchange {
    buf: Vec<u8>,
    parser: ResponseParser,
    /// Unconsumed bytes are `buf[start..end]`: a partial head line, or nothing.
    start: usize,
    end: usize,
}

impl Default for Exchange {
    fn default() -> Self {
        Self::new()
    }
}

impl Exchange {
    /// A fresh state with a small buffer.
    pub fn new() -> Self {
        Exchange {
            buf: vec![0; INITIAL_BUFFER],
            parser: ResponseParser::new(),
            start: 0,
            end: 0,
        }
    }

    /// Send `request` on `io` and read its whole response, discarding the body;
    /// `head_request` when it is a `HEAD`. The response's `keep_alive` is false when the
    /// server asked to close, the body ran to EOF, or bytes followed the response.
    pub async fn run<S>(
        &mut self,
        io: &mut S,
        request: &[u8],
        head_request: bool,
    ) -> Result<Response, ExchangeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        io.write_all(request).await?;
        self.begin(head_request);
        loop {
            let n = io.read(self.spare()).await?;
            if let Some(r) = self.filled(n)? {
                return Ok(r);
            }
        }
    }

    /// Wait for the response to a request just sent (the I/O-free half of [`Self::run`],
    /// for a driver that does its own reads).
    pub fn begin(&mut self, head_request: bool) {
        self.parser.start(head_request);
        (self.start, self.end) = (0, 0);
    }

    /// Where the next read goes: free space after the unconsumed bytes (moved to the
    /// front, or the buffer grown, when none is left). Valid until the next call here.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                self.grow();
            }
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`Self::spare`] (0: the peer closed). The response once it
    /// is complete; `None` while more bytes are needed.
    pub fn filled(&mut self, n: usize) -> Result<Option<Response>, ExchangeError> {
        if n == 0 {
            return self.parser.eof().map(Some).ok_or(ExchangeError::Closed);
        }
        let room = self.buf.len() - self.end;
        self.end += n;
        let (used, done) = self.parser.feed(&self.buf[self.start..self.end])?;
        self.start += used;
        if let Some(mut r) = done {
            r.keep_alive &= self.start == self.end;
            return Ok(Some(r));
        }
        if n == room && self.start == self.end {
            // A body that fills the buffer: fewer reads with a larger one.
            self.grow();
        }
        Ok(None)
    }

    fn grow(&mut self) {
        let len = (self.buf.len() * 2).min(MAX_BUFFER);
        self.buf.resize(len, 0);
    }
}
