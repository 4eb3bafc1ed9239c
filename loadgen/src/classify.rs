//! Request failures → [`ErrorKind`], from the OS errno or hyper's error kind, never from
//! message text.

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

/// Classify an error of the request phase by walking its source chain: the first
/// `std::io::Error` with an errno decides; otherwise hyper's own error kind does.
pub fn request_error(e: &(dyn StdError + 'static)) -> ErrorKind {
    let mut hyper_kind = None;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(code) = io.raw_os_error() {
                return request_errno(code);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof => return ErrorKind::ConnectionReset,
                std::io::ErrorKind::TimedOut => return ErrorKind::RequestTimeout,
                _ => {}
            }
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
}
