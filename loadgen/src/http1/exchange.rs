//! One HTTP/1.1 request/response over an open connection: one `write_all` of the request,
//! then reads into a buffer reused across requests and connections until the response is
//! complete. No pipelining: the next request waits for this response.

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
        self.parser.start(head_request);
        // Unconsumed bytes are buf[start..end]: a partial head line, or nothing.
        let (mut start, mut end) = (0, 0);
        loop {
            if start == end {
                (start, end) = (0, 0);
            } else if end == self.buf.len() {
                if start > 0 {
                    self.buf.copy_within(start..end, 0);
                    (start, end) = (0, end - start);
                } else {
                    self.grow();
                }
            }
            let room = self.buf.len() - end;
            let n = io.read(&mut self.buf[end..]).await?;
            if n == 0 {
                return self.parser.eof().ok_or(ExchangeError::Closed);
            }
            end += n;
            let (used, done) = self.parser.feed(&self.buf[start..end])?;
            start += used;
            if let Some(mut r) = done {
                r.keep_alive &= start == end;
                return Ok(r);
            }
            if n == room && start == end {
                // A body that fills the buffer: fewer reads with a larger one.
                self.grow();
            }
        }
    }

    fn grow(&mut self) {
        let len = (self.buf.len() * 2).min(MAX_BUFFER);
        self.buf.resize(len, 0);
    }
}
