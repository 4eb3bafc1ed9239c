//! Why a request failed, classified from the OS errno or the protocol, never from message text.

use serde::{Deserialize, Serialize};

/// The failure class of one request. `None` means a response arrived (its status is kept
/// separately). The numeric codes are the on-disk encoding in `requests.bin`: never reuse one.
///
/// Ordered by [`ErrorKind::name`], not by code: maps keyed by kind are written to JSON in
/// `BTreeMap` order, and name order is the key order those files have always had. Code
/// order is [`ErrorKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ErrorKind {
    /// A response arrived.
    None = 0,
    /// ECONNREFUSED: nothing listening, or the listen queue refused the SYN.
    ConnectRefused = 1,
    /// EADDRNOTAVAIL: no free local (ephemeral) port.
    AddrNotAvailable = 2,
    /// EMFILE: the process ran out of file descriptors.
    TooManyOpenFiles = 3,
    /// ENFILE: the system ran out of file descriptors.
    FileTableFull = 4,
    /// The TCP connect did not finish within the connect timeout.
    ConnectTimeout = 5,
    /// ECONNRESET / EPIPE / early EOF: the peer closed the connection under us.
    ConnectionReset = 6,
    /// No complete response within the request timeout.
    RequestTimeout = 7,
    /// Any other connect-phase OS error.
    ConnectOther = 8,
    /// An HTTP protocol error after connecting (malformed response, h2 error).
    Protocol = 9,
    /// Any other error.
    Other = 10,
}

impl ErrorKind {
    /// All kinds, in code order.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::None,
        ErrorKind::ConnectRefused,
        ErrorKind::AddrNotAvailable,
        ErrorKind::TooManyOpenFiles,
        ErrorKind::FileTableFull,
        ErrorKind::ConnectTimeout,
        ErrorKind::ConnectionReset,
        ErrorKind::RequestTimeout,
        ErrorKind::ConnectOther,
        ErrorKind::Protocol,
        ErrorKind::Other,
    ];

    /// The kind for an on-disk code; unknown codes read as `Other`.
    pub fn from_code(code: u8) -> ErrorKind {
        ErrorKind::ALL
            .get(code as usize)
            .copied()
            .unwrap_or(ErrorKind::Other)
    }

    /// The on-disk code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The stable snake_case name used in JSON, metrics (`error.type`) and reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::None => "none",
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::AddrNotAvailable => "addr_not_available",
            ErrorKind::TooManyOpenFiles => "too_many_open_files",
            ErrorKind::FileTableFull => "file_table_full",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::ConnectionReset => "connection_reset",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::ConnectOther => "connect_other",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Other => "other",
        }
    }

    /// The kind with this [`ErrorKind::name`].
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True for failures of the connection phase or of the socket itself: the evidence
    /// of socket saturation.
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            ErrorKind::ConnectRefused
                | ErrorKind::AddrNotAvailable
                | ErrorKind::TooManyOpenFiles
                | ErrorKind::FileTableFull
                | ErrorKind::ConnectTimeout
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectOther
        )
    }

    /// Classify a connect-phase errno.
    pub fn from_connect_errno(errno: i32) -> ErrorKind {
        match errno {
            libc_consts::ECONNREFUSED => ErrorKind::ConnectRefused,
            libc_consts::EADDRNOTAVAIL => ErrorKind::AddrNotAvailable,
            libc_consts::EMFILE => ErrorKind::TooManyOpenFiles,
            libc_consts::ENFILE => ErrorKind::FileTableFull,
            libc_consts::ETIMEDOUT => ErrorKind::ConnectTimeout,
            libc_consts::ECONNRESET | libc_consts::EPIPE => ErrorKind::ConnectionReset,
            _ => ErrorKind::ConnectOther,
        }
    }
}

impl Ord for ErrorKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for ErrorKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Linux errno values (stable ABI), kept here so this crate needs no libc dependency.
pub mod libc_consts {
    /// Broken pipe.
    pub const EPIPE: i32 = 32;
    /// Too many open files in the process.
    pub const EMFILE: i32 = 24;
    /// Too many open files in the system.
    pub const ENFILE: i32 = 23;
    /// Cannot assign requested address.
    pub const EADDRNOTAVAIL: i32 = 99;
    /// Connection reset by peer.
    pub const ECONNRESET: i32 = 104;
    /// Connection timed out.
    pub const ETIMEDOUT: i32 = 110;
    /// Connection refused.
    pub const ECONNREFUSED: i32 = 111;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(k.code()), k);
        }
        assert_eq!(ErrorKind::from_code(200), ErrorKind::Other);
    }

    #[test]
    fn names_are_the_serde_names_and_the_order() {
        for k in ErrorKind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
            assert_eq!(ErrorKind::from_name(k.name()), Some(k));
        }
        assert_eq!(ErrorKind::from_name("connection_refused"), None);
        let mut sorted = ErrorKind::ALL;
        sorted.sort();
        let names: Vec<&str> = sorted.iter().map(|k| k.name()).collect();
        let mut by_name = names.clone();
        by_name.sort_unstable();
        assert_eq!(names, by_name);
        // A map keyed by kind is written in name order, as when it was keyed by name.
        let m: std::collections::BTreeMap<ErrorKind, u64> = ErrorKind::ALL.map(|k| (k, 1)).into();
        let s: std::collections::BTreeMap<&str, u64> = names.iter().map(|n| (*n, 1)).collect();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&s).unwrap()
        );
        assert_eq!(
            serde_json::from_str::<std::collections::BTreeMap<ErrorKind, u64>>(
                &serde_json::to_string(&m).unwrap()
            )
            .unwrap(),
            m
        );
    }

    #[test]
    fn errno_classification() {
        assert_eq!(
            ErrorKind::from_connect_errno(99),
            ErrorKind::AddrNotAvailable
        );
        assert_eq!(
            ErrorKind::from_connect_errno(111),
            ErrorKind::ConnectRefused
        );
        assert_eq!(
            ErrorKind::from_connect_errno(24),
            ErrorKind::TooManyOpenFiles
        );
        assert_eq!(ErrorKind::from_connect_errno(1), ErrorKind::ConnectOther);
        assert!(ErrorKind::AddrNotAvailable.is_socket());
        assert!(!ErrorKind::RequestTimeout.is_socket());
    }
}
