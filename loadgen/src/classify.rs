//! Request failures → [`ErrorKind`], from the OS errno, the HTTP/1 exchange's error or
//! hyper's error kind (HTTP/2), never from message text. The same failure gets the same
//! kind on either path.

use crate::http1::exchange::ExchangeError;
use satlab_record::ErrorKind;
use satlab_record::error_kind::libc_consts as errno;
use std::error::Error as StdError;

/// Classify an error of the connect phase (socket creation or `connect`).
pub fn connect_io(e: &std::io::Error) -> ErrorKind {
    match e.raw_os_error() {
        Some(code) => ErrorKind::from_connect_errno(code),
        None if e.kind() == std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
        None => ErrorKind::ConnectOther,
    }
}

/// Classify an errno seen after the connection was established.
pub fn request_errno(code: i32) -> ErrorKind {
    match code {
        errno::ECONNRESET | errno::EPIPE | libc::ECONNABORTED => ErrorKind::ConnectionReset,
        errno::EMFILE => ErrorKind::TooManyOpenFiles,
        errno::ENFILE => ErrorKind::FileTableFull,
        _ => ErrorKind::Other,
    }
}

/// Classify an I/O error of the request phase (after connecting): by errno, else by
/// its kind; `None` when neither says anything.
pub fn request_io(io: &std::io::Error) -> Option<ErrorKind> {
    if let Some(code) = io.raw_os_error() {
        return Some(request_errno(code));
    }
    match io.kind() {
        std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::UnexpectedEof => Some(ErrorKind::ConnectionReset),
        std::io::ErrorKind::TimedOut => Some(ErrorKind::RequestTimeout),
        _ => None,
    }
}

/// Classify a failed HTTP/1 exchange as hyper's equivalent failure was: an errno as
/// [`request_io`] says, a connection closed before the response was complete as a
/// reset (hyper's incomplete message), a malformed response as a protocol error
/// (hyper's parse errors, an oversized head among them).
pub fn exchange_error(e: &ExchangeError) -> ErrorKind {
    match e {
        ExchangeError::Io(io) => request_io(io).unwrap_or(ErrorKind::Other),
        ExchangeError::Closed => ErrorKind::ConnectionReset,
        ExchangeError::Parse(_) => ErrorKind::Protocol,
    }
}

/// Classify an error of the request phase by walking its source chain: the first
/// `std::io::Error` with an errno or a telling kind decides; otherwise hyper's own error
/// kind does.
pub fn request_error(e: &(dyn StdError + 'static)) -> ErrorKind {
    let mut hyper_kind = None;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(kind) = err.downcast_ref::<std::io::Error>().and_then(request_io) {
            return kind;
        }
        if hyper_kind.is_none()
            && let Some(h) = err.downcast_ref::<hyper::Error>()
        {
            hyper_kind = Some(
                if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                    ErrorKind::ConnectionReset
                } else if h.is_timeout() {
                    ErrorKind::RequestTimeout
                } else if h.is_parse() || h.is_parse_status() || h.is_user() {
                    ErrorKind::Protocol
                } else {
                    ErrorKind::Other
                },
            );
        }
        cur = err.source();
    }
    hyper_kind.unwrap_or(ErrorKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(std::io::Error);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection refused, reset, anything")
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errno_decides_not_the_message() {
        let io = std::io::Error::from_raw_os_error(errno::EADDRNOTAVAIL);
        assert_eq!(connect_io(&io), ErrorKind::AddrNotAvailable);
        let io = std::io::Error::from_raw_os_error(errno::ECONNREFUSED);
        assert_eq!(connect_io(&io), ErrorKind::ConnectRefused);
        let io = std::io::Error::from_raw_os_error(errno::EMFILE);
        assert_eq!(connect_io(&io), ErrorKind::TooManyOpenFiles);
        // The message says "refused" but the errno is ECONNRESET.
        let w = Wrap(std::io::Error::from_raw_os_error(errno::ECONNRESET));
        assert_eq!(request_error(&w), ErrorKind::ConnectionReset);
        let w = Wrap(std::io::Error::other("connection refused"));
        assert_eq!(request_error(&w), ErrorKind::Other);
        let t = std::io::Error::new(std::io::ErrorKind::TimedOut, "x");
        assert_eq!(connect_io(&t), ErrorKind::ConnectTimeout);
    }

    #[test]
    fn exchange_errors_get_the_kinds_hyper_errors_got() {
        use crate::http1::response::ParseError;
        let io = |code| ExchangeError::Io(std::io::Error::from_raw_os_error(code));
        assert_eq!(
            exchange_error(&io(errno::ECONNRESET)),
            ErrorKind::ConnectionReset
        );
        assert_eq!(
            exchange_error(&io(errno::EPIPE)),
            ErrorKind::ConnectionReset
        );
        assert_eq!(
            exchange_error(&io(errno::EMFILE)),
            ErrorKind::TooManyOpenFiles
        );
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(
            exchange_error(&ExchangeError::Io(eof)),
            ErrorKind::ConnectionReset
        );
        let other = std::io::Error::other("x");
        assert_eq!(exchange_error(&ExchangeError::Io(other)), ErrorKind::Other);
        assert_eq!(
            exchange_error(&ExchangeError::Closed),
            ErrorKind::ConnectionReset
        );
        for p in [
            ParseError::StatusLine,
            ParseError::HeadTooLarge,
            ParseError::ChunkSize,
        ] {
            assert_eq!(
                exchange_error(&ExchangeError::Parse(p)),
                ErrorKind::Protocol
            );
        }
    }
}
