//! The incremental HTTP/1.x response parser: the status line, the headers that decide
//! framing (`content-length`, `transfer-encoding`, `connection`) and the body's framing.
//! Other headers are validated and skipped; bodies are counted and discarded as they
//! stream, never buffered, and no size the server sends is ever allocated.
//!
//! Rules, after RFC 9112:
//! - lines end in CRLF; a bare LF is accepted as a line end, a CR anywhere else is an
//!   error;
//! - the status line is `HTTP/1.1` or `HTTP/1.0`, one space, three digits (100–999), then
//!   the end of the line or a space and a reason phrase;
//! - a header's name is what precedes its first colon: not empty, no space or tab (so no
//!   obsolete line folding); names are compared without regard to case;
//! - `content-length` values (comma lists and repeated headers alike) must all be equal;
//!   differing values are an error;
//! - `transfer-encoding` whose last coding is `chunked` frames the body in chunks; any
//!   other coding makes it close-delimited; with `content-length` too, the
//!   `transfer-encoding` decides and the connection is not reused;
//! - no framing header: the body runs to EOF and the connection is not reused;
//! - a response to `HEAD`, a 204 and a 304 have no body; a 1xx is skipped and the next
//!   head read; a 101 (no upgrade is ever requested) is an error;
//! - HTTP/1.1 keeps the connection unless `connection: close`; HTTP/1.0 closes it unless
//!   `connection: keep-alive`;
//! - `transfer-encoding` in an HTTP/1.0 response is faulty framing (RFC 9112 §6.1): an
//!   error, as hyper makes it.

use super::line::{eq_lower, find_line_end, name_end};

/// Largest response head (status line and headers), and largest trailer section.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest chunk-size line, extensions included.
pub const MAX_CHUNK_LINE: usize = 4096;

/// A response that breaks the rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not `HTTP/1.x NNN[ reason]`.
    #[error("malformed status line")]
    StatusLine,
    /// A header line that is not `name: value`, or has control characters.
    #[error("malformed header line")]
    HeaderLine,
    /// The head did not end within [`MAX_HEAD`] bytes.
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// A `content-length` that is not a number, or differs from another one.
    #[error("invalid or conflicting content-length")]
    ContentLength,
    /// A chunk-size line that is not hex digits, optional extensions and a line end.
    #[error("malformed chunk size line")]
    ChunkSize,
    /// A chunk-size line longer than [`MAX_CHUNK_LINE`].
    #[error("chunk size line longer than {MAX_CHUNK_LINE} bytes")]
    ChunkLineTooLong,
    /// Chunk data not followed by a line end.
    #[error("chunk data not followed by CRLF")]
    ChunkEnd,
    /// The trailer section did not end within [`MAX_HEAD`] bytes, or ended badly.
    #[error("malformed or oversized trailer section")]
    Trailers,
    /// `transfer-encoding` in an HTTP/1.0 response.
    #[error("transfer-encoding in an HTTP/1.0 response")]
    TransferEncoding10,
    /// A 101 Switching Protocols, which no request asked for.
    #[error("unexpected 101 Switching Protocols")]
    Upgrade,
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The final status (never 1xx).
    pub status: u16,
    /// The connection may carry another request.
    pub keep_alive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StatusLine,
    Headers,
    /// `content-length` body: bytes left.
    Length(u64),
    /// Close-delimited body: everything until EOF.
    UntilClose,
    /// Chunk-size hex digits (at least one seen when `digits`).
    Size {
        size: u64,
        digits: bool,
    },
    /// After the digits: whitespace before `;` or the line end.
    SizeSpace(u64),
    /// A chunk extension: skipped to the line end.
    SizeExt(u64),
    /// CR of the chunk-size line seen.
    SizeLf(u64),
    /// Chunk data: bytes left.
    Data(u64),
    /// After chunk data: CR (or a bare LF) expected.
    DataCr,
    /// After chunk data and its CR: LF expected.
    DataLf,
    /// The start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line: skipped to its LF.
    Trailer,
    /// CR of the final empty line seen.
    TrailerLf,
}

/// Parses one response at a time from bytes fed in any split.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    state: State,
    head_request: bool,
    /// Bytes of the current head, or of the chunk-size line / trailer section.
    len: usize,
    /// Bytes of an incomplete head line already checked.
    scanned: usize,
    status: u16,
    http10: bool,
    close: bool,
    keep_alive: bool,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = s.iter().position(|c| !ows(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !ows(c)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// The comma-separated, trimmed, non-empty elements of a list header.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&c| c == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u64),
        b'a'..=b'f' => Some((b - b'a' + 10) as u64),
        b'A'..=b'F' => Some((b - b'A' + 10) as u64),
        _ => None,
    }
}

impl ResponseParser {
    /// A parser waiting for the response to a non-`HEAD` request.
    pub fn new() -> Self {
        ResponseParser {
            state: State::StatusLine,
            head_request: false,
            len: 0,
            scanned: 0,
            status: 0,
            http10: false,
            close: false,
            keep_alive: false,
            content_length: None,
            transfer_encoding: false,
            chunked: false,
        }
    }

    /// Wait for a new response; `head_request` when it answers a `HEAD`.
    pub fn start(&mut self, head_request: bool) {
        *self = ResponseParser {
            head_request,
            ..Self::new()
        };
    }

    /// Consume what it can of `buf`, the bytes not consumed by earlier calls followed by
    /// new ones. Returns how many bytes were consumed (an incomplete head line is left
    /// for the next call, with more bytes after it) and the response once it is complete;
    /// bytes after a complete response are not consumed.
    pub fn feed(&mut self, buf: &[u8]) -> Result<(usize, Option<Response>), ParseError> {
        let mut pos = 0;
        while pos < buf.len() {
            let done = match self.state {
                State::StatusLine | State::Headers => {
                    let status_line = self.state == State::StatusLine;
                    let bad = if status_line {
                        ParseError::StatusLine
                    } else {
                        ParseError::HeaderLine
                    };
                    let Some(lf) = find_line_end(buf, pos + self.scanned).map_err(|_| bad)? else {
                        let rest = &buf[pos..];
                        if self.len + rest.len() > MAX_HEAD {
                            return Err(ParseError::HeadTooLarge);
                        }
                        // Fail early on a line that cannot become a status line.
                        let n = rest.len().min(7);
                        if status_line && rest[..n] != b"HTTP/1."[..n] {
                            return Err(ParseError::StatusLine);
                        }
                        // A final CR is checked again with the byte after it.
                        self.scanned = rest.len() - usize::from(rest.ends_with(b"\r"));
                        return Ok((pos, None));
                    };
                    self.scanned = 0;
                    self.len += lf + 1 - pos;
                    if self.len > MAX_HEAD {
                        return Err(ParseError::HeadTooLarge);
                    }
                    let line = match &buf[pos..lf] {
                        [line @ .., b'\r'] => line,
                        line => line,
                    };
                    pos = lf + 1;
                    self.line(line)?
                }
                State::Length(left) => {
                    let take = left.min((buf.len() - pos) as u64);
                    pos += take as usize;
                    self.state = State::Length(left - take);
                    left == take
                }
                State::UntilClose => {
                    pos = buf.len();
                    false
                }
                State::Data(left) => {
                    let take = left.min((buf.len() - pos) as u64);
                    pos += take as usize;
                    self.state = if left == take {
                        State::DataCr
                    } else {
                        State::Data(left - take)
                    };
                    false
                }
                _ => {
                    let b = buf[pos];
                    pos += 1;
                    self.chunk_byte(b)?
                }
            };
            if done {
                let r = Response {
                    status: self.status,
                    keep_alive: self.keep_alive,
                };
                self.start(self.head_request);
                return Ok((pos, Some(r)));
            }
        }
        Ok((pos, None))
    }

    /// The peer closed the connection: the response, if its body was close-delimited;
    /// `None` when the response is incomplete.
    pub fn eof(&self) -> Option<Response> {
        (self.state == State::UntilClose).then_some(Response {
            status: self.status,
            keep_alive: false,
        })
    }

    /// One head line (without its line end); true when the response is complete.
    fn line(&mut self, line: &[u8]) -> Result<bool, ParseError> {
        if self.state == State::StatusLine {
            self.status_line(line)?;
            self.state = State::Headers;
            Ok(false)
        } else if line.is_empty() {
            self.end_of_head()
        } else {
            self.header(line)
        }
    }

    fn status_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        let [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            minor,
            b' ',
            d0,
            d1,
            d2,
            rest @ ..,
        ] = line
        else {
            return Err(ParseError::StatusLine);
        };
        self.http10 = match minor {
            b'1' => false,
            b'0' => true,
            _ => return Err(ParseError::StatusLine),
        };
        let digit = |d: u8| d.is_ascii_digit().then(|| (d - b'0') as u16);
        let (Some(a), Some(b), Some(c)) = (digit(*d0), digit(*d1), digit(*d2)) else {
            return Err(ParseError::StatusLine);
        };
        self.status = a * 100 + b * 10 + c;
        // The reason phrase's bytes were checked with the line's.
        if self.status < 100 || !matches!(rest, [] | [b' ', ..]) {
            return Err(ParseError::StatusLine);
        }
        Ok(())
    }

    fn header(&mut self, line: &[u8]) -> Result<bool, ParseError> {
        // The value's bytes were checked with the line's.
        let colon = name_end(line).ok_or(ParseError::HeaderLine)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        // Three names matter; their lengths tell them apart before any comparison.
        match colon {
            14 if eq_lower(name, b"content-length") => {
                for v in value.split(|&c| c == b',').map(trim_ows) {
                    let n = parse_length(v).ok_or(ParseError::ContentLength)?;
                    if self.content_length.is_some_and(|m| m != n) {
                        return Err(ParseError::ContentLength);
                    }
                    self.content_length = Some(n);
                }
            }
            17 if eq_lower(name, b"transfer-encoding") => {
                self.transfer_encoding = true;
                self.chunked = list(value).last().is_some_and(|t| eq_lower(t, b"chunked"));
            }
            10 if eq_lower(name, b"connection") => {
                for token in list(value) {
                    self.close |= eq_lower(token, b"close");
                    self.keep_alive |= eq_lower(token, b"keep-alive");
                }
            }
            _ => {}
        }
        Ok(false)
    }

    /// The empty line: decide the body's framing; true when there is no body.
    fn end_of_head(&mut self) -> Result<bool, ParseError> {
        match self.status {
            101 => return Err(ParseError::Upgrade),
            100..=199 => {
                // An interim response: the final one follows.
                self.start(self.head_request);
                return Ok(false);
            }
            _ => {}
        }
        self.keep_alive = !self.close && (!self.http10 || self.keep_alive);
        if self.head_request || self.status == 204 || self.status == 304 {
            return Ok(true);
        }
        self.len = 0;
        if self.transfer_encoding {
            if self.http10 {
                return Err(ParseError::TransferEncoding10);
            }
            if self.content_length.is_some() {
                self.keep_alive = false;
            }
            if self.chunked {
                self.state = State::Size {
                    size: 0,
                    digits: false,
                };
                return Ok(false);
            }
        } else if let Some(n) = self.content_length {
            self.state = State::Length(n);
            return Ok(n == 0);
        }
        self.keep_alive = false;
        self.state = State::UntilClose;
        Ok(false)
    }

    /// One byte of chunk framing (not of chunk data); true when the body is complete.
    fn chunk_byte(&mut self, b: u8) -> Result<bool, ParseError> {
        use State::*;
        if matches!(
            self.state,
            Size { .. } | SizeSpace(_) | SizeExt(_) | SizeLf(_)
        ) {
            self.len += 1;
            if self.len > MAX_CHUNK_LINE {
                return Err(ParseError::ChunkLineTooLong);
            }
        } else if matches!(self.state, TrailerStart | Trailer | TrailerLf) {
            self.len += 1;
            if self.len > MAX_HEAD {
                return Err(ParseError::Trailers);
            }
        }
        let bad = ParseError::ChunkSize;
        self.state = match (self.state, b) {
            (Size { size, .. }, _) if hex(b).is_some() => {
                if size > u64::MAX >> 4 {
                    return Err(bad);
                }
                Size {
                    size: size << 4 | hex(b).unwrap_or(0),
                    digits: true,
                }
            }
            (Size { digits: false, .. }, _) => return Err(bad),
            (Size { size, .. } | SizeSpace(size), b' ' | b'\t') => SizeSpace(size),
            (Size { size, .. } | SizeSpace(size), b';') => SizeExt(size),
            (Size { size, .. } | SizeSpace(size) | SizeExt(size), b'\r') => SizeLf(size),
            (Size { size, .. } | SizeSpace(size) | SizeExt(size) | SizeLf(size), b'\n') => {
                self.len = 0;
                if size == 0 { TrailerStart } else { Data(size) }
            }
            (SizeExt(size), _) => SizeExt(size),
            (Size { .. } | SizeSpace(_) | SizeLf(_), _) => return Err(bad),
            (DataCr, b'\r') => DataLf,
            (DataCr | DataLf, b'\n') => Size {
                size: 0,
                digits: false,
            },
            (DataCr | DataLf, _) => return Err(ParseError::ChunkEnd),
            (TrailerStart, b'\r') => TrailerLf,
            (TrailerStart | TrailerLf, b'\n') => return Ok(true),
            (TrailerLf, _) => return Err(ParseError::Trailers),
            (Trailer, b'\n') => TrailerStart,
            (TrailerStart | Trailer, _) => Trailer,
            (StatusLine | Headers | Length(_) | UntilClose | Data(_), _) => {
                unreachable!("chunk_byte is called in chunk framing states only")
            }
        };
        Ok(false)
    }
}

/// A `content-length` value: decimal digits only, no overflow.
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add((c - b'0') as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a run of the parser over a whole response ends in.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Got {
        /// The response and how many bytes followed it.
        Done(Response, usize),
        Parse(ParseError),
        /// EOF before the response was complete.
        Closed,
    }

    fn done(status: u16, keep_alive: bool) -> Got {
        Got::Done(Response { status, keep_alive }, 0)
    }

    /// Feed `bytes` in pieces ending at `cuts` (ascending), as the exchange does: bytes
    /// not consumed stay in front of the next piece; EOF after the last piece.
    fn run(bytes: &[u8], head: bool, cuts: &[usize]) -> Got {
        let mut p = ResponseParser::new();
        p.start(head);
        let mut pending = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            pending.extend_from_slice(&bytes[from..cut]);
            from = cut;
            match p.feed(&pending) {
                Err(e) => return Got::Parse(e),
                Ok((used, r)) => {
                    pending.drain(..used);
                    if let Some(r) = r {
                        return Got::Done(r, pending.len() + bytes.len() - from);
                    }
                }
            }
        }
        match p.eof() {
            Some(r) => Got::Done(r, 0),
            None => Got::Closed,
        }
    }

    const OK: &str = "HTTP/1.1 200 OK\r\n";
    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

    /// (what, response, a HEAD request, expected).
    fn cases() -> Vec<(&'static str, String, bool, Got)> {
        use ParseError::*;
        let s = |x: &str| x.to_string();
        vec![
            (
                "content-length",
                s("HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello"),
                false,
                done(200, true),
            ),
            (
                "zero length",
                format!("{OK}content-length: 0\r\n\r\n"),
                false,
                done(200, true),
            ),
            (
                "no reason phrase",
                s("HTTP/1.1 503\r\ncontent-length: 0\r\n\r\n"),
                false,
                done(503, true),
            ),
            (
                "bare LF line ends",
                s("HTTP/1.1 200 OK\ncontent-length: 2\n\nok"),
                false,
                done(200, true),
            ),
            (
                "equal duplicate lengths",
                format!("{OK}content-length: 3\r\nCONTENT-LENGTH: 3, 3\r\n\r\nabc"),
                false,
                done(200, true),
            ),
            (
                "chunked, extensions, trailers",
                format!(
                    "{CHUNKED}5;ext=1;q=\"a b\"\r\nhello\r\nA \t; e\r\n0123456789\r\n\
                     0000b\r\n01234567890\r\n000;last\r\nx-trailer: 1\r\ny: 2\r\n\r\n"
                ),
                false,
                done(200, true),
            ),
            (
                "chunked, only the last chunk",
                format!("{CHUNKED}0\r\n\r\n"),
                false,
                done(200, true),
            ),
            (
                "chunked after another coding, any case",
                format!(
                    "{OK}Transfer-Encoding: gzip\r\ntransfer-encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                ),
                false,
                done(200, true),
            ),
            (
                "chunked with bare LF",
                format!("{CHUNKED}2\nok\n0\n\n"),
                false,
                done(200, true),
            ),
            (
                "transfer-encoding beats content-length, connection not reused",
                format!(
                    "{OK}content-length: 100\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                ),
                false,
                done(200, false),
            ),
            (
                "close-delimited",
                format!("{OK}server: x\r\n\r\nuntil the end"),
                false,
                done(200, false),
            ),
            (
                "close-delimited, empty",
                format!("{OK}\r\n"),
                false,
                done(200, false),
            ),
            (
                "other coding: close-delimited",
                format!("{OK}transfer-encoding: gzip\r\n\r\nzzzz"),
                false,
                done(200, false),
            ),
            (
                "HTTP/1.0 closes by default",
                s("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"),
                false,
                done(200, false),
            ),
            (
                "HTTP/1.0 keep-alive",
                s("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 2\r\n\r\nok"),
                false,
                done(200, true),
            ),
            (
                "HTTP/1.0 close-delimited",
                s("HTTP/1.0 200 OK\r\n\r\nbody"),
                false,
                done(200, false),
            ),
            (
                "connection: close",
                format!("{OK}Connection: close\r\ncontent-length: 2\r\n\r\nok"),
                false,
                done(200, false),
            ),
            (
                "close among connection tokens",
                format!("{OK}connection: keep-alive, CLOSE\r\ncontent-length: 0\r\n\r\n"),
                false,
                done(200, false),
            ),
            (
                "HEAD ignores content-length",
                format!("{OK}content-length: 1000\r\n\r\n"),
                true,
                done(200, true),
            ),
            ("HEAD ignores chunked", s(CHUNKED), true, done(200, true)),
            (
                "204",
                s("HTTP/1.1 204 No Content\r\nserver: nginx\r\n\r\n"),
                false,
                done(204, true),
            ),
            (
                "304 with a length",
                s("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"),
                false,
                done(304, true),
            ),
            (
                "100-continue then 200",
                format!("HTTP/1.1 100 Continue\r\n\r\n{OK}content-length: 2\r\n\r\nok"),
                false,
                done(200, true),
            ),
            (
                "103 with headers then a close-delimited 200",
                format!(
                    "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\ncontent-length: 9\r\n\r\n{OK}\r\nrest"
                ),
                false,
                done(200, false),
            ),
            (
                "bytes after the response are left",
                format!("{OK}content-length: 2\r\n\r\nokXY"),
                false,
                Got::Done(
                    Response {
                        status: 200,
                        keep_alive: true,
                    },
                    2,
                ),
            ),
            ("nothing", s(""), false, Got::Closed),
            (
                "status line without its line end",
                s("HTTP/1.1 200 OK"),
                false,
                Got::Closed,
            ),
            (
                "head cut short",
                format!("{OK}content-length: 2\r\n"),
                false,
                Got::Closed,
            ),
            (
                "body cut short",
                format!("{OK}content-length: 10\r\n\r\nhello"),
                false,
                Got::Closed,
            ),
            (
                "chunked cut short",
                format!("{CHUNKED}5\r\nhel"),
                false,
                Got::Closed,
            ),
            (
                "trailers cut short",
                format!("{CHUNKED}0\r\nx: 1\r\n"),
                false,
                Got::Closed,
            ),
            (
                "HTTP/1.0 with transfer-encoding",
                s(
                    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                ),
                false,
                Got::Parse(TransferEncoding10),
            ),
            (
                "an empty later transfer-encoding ends chunked framing",
                format!("{OK}transfer-encoding: chunked\r\ntransfer-encoding:\r\n\r\nbody"),
                false,
                done(200, false),
            ),
            (
                "a name that only looks like transfer-encoding",
                format!("{OK}transfer+encoding: chunked\r\ncontent-length: 2\r\n\r\nok"),
                false,
                done(200, true),
            ),
            (
                "two-digit status",
                s("HTTP/1.1 20 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "four-digit status",
                s("HTTP/1.1 2000 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "status below 100",
                s("HTTP/1.1 099 x\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "non-digit status",
                s("HTTP/1.1 2x0 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "wrong protocol",
                s("HTTX/1.1 200 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "wrong version",
                s("HTTP/2.0 200 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "lowercase protocol",
                s("http/1.1 200 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "two spaces",
                s("HTTP/1.1  200 OK\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "CR inside the status line",
                s("HTTP/1.1 200 OK\rX\r\n\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "garbage",
                s("<html>hello</html>\r\n"),
                false,
                Got::Parse(StatusLine),
            ),
            (
                "101",
                s("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
                false,
                Got::Parse(Upgrade),
            ),
            (
                "header without colon",
                format!("{OK}no colon here\r\n\r\n"),
                false,
                Got::Parse(HeaderLine),
            ),
            (
                "space before the colon",
                format!("{OK}content-length : 2\r\n\r\nok"),
                false,
                Got::Parse(HeaderLine),
            ),
            (
                "obsolete folding",
                format!("{OK}x: a\r\n  b\r\n\r\n"),
                false,
                Got::Parse(HeaderLine),
            ),
            (
                "empty name",
                format!("{OK}: a\r\n\r\n"),
                false,
                Got::Parse(HeaderLine),
            ),
            (
                "control character",
                format!("{OK}x: a\u{1}b\r\n\r\n"),
                false,
                Got::Parse(HeaderLine),
            ),
            (
                "differing content-lengths",
                format!("{OK}content-length: 5\r\ncontent-length: 6\r\n\r\nhello"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "differing in a list",
                format!("{OK}content-length: 5, 6\r\n\r\n"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "negative length",
                format!("{OK}content-length: -1\r\n\r\n"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "empty length",
                format!("{OK}content-length:\r\n\r\n"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "hex length",
                format!("{OK}content-length: 0x10\r\n\r\n"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "overflowing length",
                format!("{OK}content-length: 99999999999999999999999\r\n\r\n"),
                false,
                Got::Parse(ContentLength),
            ),
            (
                "non-hex chunk size",
                format!("{CHUNKED}zz\r\n"),
                false,
                Got::Parse(ChunkSize),
            ),
            (
                "empty chunk size",
                format!("{CHUNKED}\r\n"),
                false,
                Got::Parse(ChunkSize),
            ),
            (
                "junk after the chunk size",
                format!("{CHUNKED}5x\r\nhello\r\n0\r\n\r\n"),
                false,
                Got::Parse(ChunkSize),
            ),
            (
                "CR without LF in the size line",
                format!("{CHUNKED}5\rhello"),
                false,
                Got::Parse(ChunkSize),
            ),
            (
                "overflowing chunk size",
                format!("{CHUNKED}1ffffffffffffffff\r\n"),
                false,
                Got::Parse(ChunkSize),
            ),
            (
                "chunk data without CRLF",
                format!("{CHUNKED}5\r\nhelloX\r\n"),
                false,
                Got::Parse(ChunkEnd),
            ),
            (
                "chunk data with CR only",
                format!("{CHUNKED}5\r\nhello\rX"),
                false,
                Got::Parse(ChunkEnd),
            ),
            (
                "bad end of trailers",
                format!("{CHUNKED}0\r\n\rX"),
                false,
                Got::Parse(Trailers),
            ),
        ]
    }

    #[test]
    fn every_case_whole_then_split_at_every_byte_and_byte_by_byte() {
        for (what, bytes, head, want) in cases() {
            let b = bytes.as_bytes();
            assert_eq!(run(b, head, &[]), want, "{what}: whole");
            for cut in 0..=b.len() {
                assert_eq!(run(b, head, &[cut]), want, "{what}: split at {cut}");
            }
            let every: Vec<usize> = (1..b.len()).collect();
            assert_eq!(run(b, head, &every), want, "{what}: byte by byte");
        }
    }

    #[test]
    fn the_parser_is_reused_after_a_response() {
        let mut p = ResponseParser::new();
        let two = format!("{CHUNKED}1\r\nx\r\n0\r\n\r\n{OK}content-length: 1\r\n\r\ny");
        let (used, r) = p.feed(two.as_bytes()).unwrap();
        assert_eq!(
            r,
            Some(Response {
                status: 200,
                keep_alive: true
            })
        );
        let (rest, r) = p.feed(&two.as_bytes()[used..]).unwrap();
        assert_eq!(
            r,
            Some(Response {
                status: 200,
                keep_alive: true
            })
        );
        assert_eq!(used + rest, two.len());
    }

    #[test]
    fn oversized_heads_and_lines_are_errors() {
        let long_value = format!("{OK}x-pad: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let many: String = (0..MAX_HEAD / 16)
            .map(|i| format!("x-h{i:06}: 123\r\n"))
            .collect();
        let many = format!("{OK}{many}\r\n");
        let long_status = format!("HTTP/1.1 200 {}", "a".repeat(MAX_HEAD + 1));
        let long_ext = format!(
            "{CHUNKED}5;{}\r\nhello\r\n0\r\n\r\n",
            "e".repeat(MAX_CHUNK_LINE)
        );
        let trailers: String = (0..MAX_HEAD / 8).map(|_| "t: 123\r\n").collect();
        let long_trailers = format!("{CHUNKED}0\r\n{trailers}\r\n");
        let cases = [
            (long_value, ParseError::HeadTooLarge),
            (many, ParseError::HeadTooLarge),
            (long_status, ParseError::HeadTooLarge),
            (long_ext, ParseError::ChunkLineTooLong),
            (long_trailers, ParseError::Trailers),
        ];
        for (bytes, want) in cases {
            let b = bytes.as_bytes();
            for cuts in [
                vec![],
                vec![1],
                vec![b.len() / 2],
                (1..b.len()).step_by(4096).collect(),
            ] {
                assert_eq!(run(b, false, &cuts), Got::Parse(want), "{want:?} {cuts:?}");
            }
        }
        // Just under the limit is fine.
        let pad = MAX_HEAD - OK.len() - "x: \r\n\r\n".len();
        let fits = format!("{OK}x: {}\r\n\r\n", "a".repeat(pad));
        assert_eq!(fits.len(), MAX_HEAD);
        assert_eq!(run(fits.as_bytes(), true, &[100]), done(200, true));
    }

    /// A chunked body of chunks of these sizes, with extensions and trailers if asked.
    fn chunked(sizes: &[usize], ext: bool, trailers: bool) -> Vec<u8> {
        let mut b = CHUNKED.as_bytes().to_vec();
        for &n in sizes.iter().filter(|&&n| n > 0) {
            b.extend_from_slice(format!("{n:x}").as_bytes());
            if ext {
                b.extend_from_slice(b" ; name=\"v\"");
            }
            b.extend_from_slice(b"\r\n");
            b.extend(std::iter::repeat_n(b'\n', n));
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"0\r\n");
        if trailers {
            b.extend_from_slice(b"x-sum: 1\r\nx-more: two\r\n");
        }
        b.extend_from_slice(b"\r\n");
        b
    }

    proptest! {
        #[test]
        fn random_splits_of_every_case_agree(
            which in any::<prop::sample::Index>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let all = cases();
            let (what, bytes, head, want) = &all[which.index(all.len())];
            let b = bytes.as_bytes();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(b.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(&run(b, *head, &cuts), want, "{}", what);
        }

        #[test]
        fn random_chunked_bodies_in_random_pieces_are_read_to_the_end(
            sizes in prop::collection::vec(0usize..700, 0..8),
            ext in any::<bool>(),
            trailers in any::<bool>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut b = chunked(&sizes, ext, trailers);
            b.extend_from_slice(b"HTTP/1.1"); // the next response's start is left unread
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(b.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(
                run(&b, false, &cuts),
                Got::Done(Response { status: 200, keep_alive: true }, 8)
            );
        }
    }
}
