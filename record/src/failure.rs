//! Why a request failed, as one key: an [`ErrorKind`] or an HTTP status of 400 or more.
//!
//! The key of the failure maps in `seconds.jsonl` and the diagnosis. It is written as the
//! error kind's name (`connect_refused`) or `http_<code>` (`http_503`) and parsed back
//! once, at the serde boundary; everything in between holds the typed value.

use crate::error_kind::ErrorKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A failed request's key: no response ([`Failure::Error`]) or an error status
/// ([`Failure::Status`]). Build it with [`Failure::of`], [`Failure::error`] or
/// [`Failure::status`], which keep the invariants below.
///
/// Ordered by its written form (`addr_not_available` < `http_503` < `other`), not by
/// variant: JSON maps are written in `BTreeMap` order, so this order keeps every file's
/// key order exactly as it was when the keys were strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// No response arrived; never [`ErrorKind::None`].
    Error(ErrorKind),
    /// A response with this HTTP status, at least [`Failure::MIN_STATUS`].
    Status(u16),
}

/// The longest written form: `http_` and five digits.
const KEY_MAX: usize = 10;

impl Failure {
    /// The smallest status that counts as a failure.
    pub const MIN_STATUS: u16 = 400;

    /// The failure of one outcome (`status` 0 when no response arrived); `None` for a
    /// success.
    pub fn of(status: u16, error: ErrorKind) -> Option<Failure> {
        if error == ErrorKind::None {
            Failure::status(status)
        } else {
            Failure::error(error)
        }
    }

    /// The failure of an error kind; `None` for [`ErrorKind::None`].
    pub fn error(kind: ErrorKind) -> Option<Failure> {
        (kind != ErrorKind::None).then_some(Failure::Error(kind))
    }

    /// The failure of an HTTP status; `None` below [`Failure::MIN_STATUS`].
    pub fn status(code: u16) -> Option<Failure> {
        (code >= Failure::MIN_STATUS).then_some(Failure::Status(code))
    }

    /// The error kind, for a failure without response.
    pub fn kind(self) -> Option<ErrorKind> {
        match self {
            Failure::Error(k) => Some(k),
            Failure::Status(_) => None,
        }
    }

    /// The HTTP status, for an error response.
    pub fn status_code(self) -> Option<u16> {
        match self {
            Failure::Error(_) => None,
            Failure::Status(c) => Some(c),
        }
    }

    /// True for a failure of the connection phase or the socket ([`ErrorKind::is_socket`]).
    pub fn is_socket(self) -> bool {
        self.kind().is_some_and(ErrorKind::is_socket)
    }

    /// The written form, built in `buf` (no allocation: this is also the sort key).
    fn key(self, buf: &mut [u8; KEY_MAX]) -> &str {
        match self {
            Failure::Error(k) => k.name(),
            Failure::Status(code) => {
                let mut digits = [0u8; 5];
                let mut n = 0;
                let mut c = code;
                loop {
                    digits[n] = b'0' + (c % 10) as u8;
                    n += 1;
                    c /= 10;
                    if c == 0 {
                        break;
                    }
                }
                buf[..5].copy_from_slice(b"http_");
                for (i, d) in digits[..n].iter().rev().enumerate() {
                    buf[5 + i] = *d;
                }
                std::str::from_utf8(&buf[..5 + n]).expect("ASCII digits")
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key(&mut [0; KEY_MAX]))
    }
}

impl Ord for Failure {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key(&mut [0; KEY_MAX])
            .cmp(other.key(&mut [0; KEY_MAX]))
    }
}

impl PartialOrd for Failure {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A string that is not a [`Failure`]'s written form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a failure: {reason}")]
pub struct ParseFailureError {
    /// The string given.
    pub input: String,
    /// Why it was refused, with what is expected.
    pub reason: String,
}

impl FromStr for Failure {
    type Err = ParseFailureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = |reason: String| ParseFailureError {
            input: s.to_string(),
            reason,
        };
        if let Some(digits) = s.strip_prefix("http_") {
            // Canonical digits only, so that the written form reads back to itself.
            let code = digits
                .parse::<u16>()
                .ok()
                .filter(|c| c.to_string() == digits)
                .ok_or_else(|| refuse("the status after `http_` must be a whole number up to 65535, without sign or leading zeros".into()))?;
            return Failure::status(code).ok_or_else(|| {
                refuse(format!(
                    "statuses below {} are not failures",
                    Failure::MIN_STATUS
                ))
            });
        }
        match ErrorKind::from_name(s) {
            Some(ErrorKind::None) => Err(refuse(
                "`none` means a response arrived; its status is the failure, as `http_<status>`"
                    .into(),
            )),
            Some(k) => Ok(Failure::Error(k)),
            None => {
                let kinds: Vec<&str> = ErrorKind::ALL
                    .iter()
                    .filter(|k| **k != ErrorKind::None)
                    .map(|k| k.name())
                    .collect();
                Err(refuse(format!(
                    "expected an error kind ({}) or `http_<status>` with a status of {} or more",
                    kinds.join(", "),
                    Failure::MIN_STATUS
                )))
            }
        }
    }
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key(&mut [0; KEY_MAX]))
    }
}

impl<'de> Deserialize<'de> for Failure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Failure;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error kind name or `http_<status>`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Failure, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn all() -> Vec<Failure> {
        let mut v: Vec<Failure> = ErrorKind::ALL
            .iter()
            .filter_map(|k| Failure::error(*k))
            .collect();
        v.extend([400, 429, 499, 500, 503, 599, 1000, 65535].map(Failure::Status));
        v
    }

    #[test]
    fn written_forms_round_trip() {
        assert_eq!(
            Failure::Error(ErrorKind::ConnectRefused).to_string(),
            "connect_refused"
        );
        assert_eq!(Failure::Status(503).to_string(), "http_503");
        assert_eq!(Failure::Status(65535).to_string(), "http_65535");
        for f in all() {
            assert_eq!(f.to_string().parse::<Failure>(), Ok(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{f}\""));
            assert_eq!(serde_json::from_str::<Failure>(&json).unwrap(), f);
        }
        // As map keys, which is how the files carry them.
        let m: BTreeMap<Failure, u64> = all().into_iter().zip(1..).collect();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            serde_json::from_str::<BTreeMap<Failure, u64>>(&json).unwrap(),
            m
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            serde_json::from_value::<BTreeMap<Failure, u64>>(v).unwrap(),
            m
        );
    }

    #[test]
    fn ordered_by_written_form() {
        let mut typed = all();
        typed.sort();
        let mut strings: Vec<String> = all().iter().map(Failure::to_string).collect();
        strings.sort();
        let typed: Vec<String> = typed.iter().map(Failure::to_string).collect();
        assert_eq!(typed, strings);
        // Statuses sit between the kinds, where their strings do; 1000 before 400 as text.
        assert!(Failure::Error(ErrorKind::FileTableFull) < Failure::Status(503));
        assert!(Failure::Status(503) < Failure::Error(ErrorKind::Other));
        assert!(Failure::Status(1000) < Failure::Status(400));
        // So a map serialises with its keys in string order.
        let m: BTreeMap<Failure, u64> = all().into_iter().map(|f| (f, 1)).collect();
        let by_string: BTreeMap<String, u64> = all().iter().map(|f| (f.to_string(), 1)).collect();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            serde_json::to_string(&by_string).unwrap()
        );
    }

    #[test]
    fn bad_strings_are_refused_with_a_reason() {
        let err = |s: &str| s.parse::<Failure>().unwrap_err().to_string();
        let unknown = err("connection_refused");
        assert!(
            unknown.starts_with("`connection_refused` is not a failure: expected an error kind (")
        );
        for k in ErrorKind::ALL.iter().filter(|k| **k != ErrorKind::None) {
            assert!(unknown.contains(k.name()), "{unknown}");
        }
        assert!(!unknown.contains("none"), "{unknown}");
        assert!(err("none").contains("a response arrived"));
        assert!(err("http_200").contains("below 400"));
        assert!(err("http_0").contains("below 400"));
        for s in [
            "http_",
            "http_abc",
            "http_0503",
            "http_+503",
            "http_70000",
            "HTTP_503",
            "503",
            "",
        ] {
            assert!(s.parse::<Failure>().is_err(), "{s}");
        }
        assert!(err("http_x").contains("must be a whole number"));
        let e = serde_json::from_str::<BTreeMap<Failure, u64>>(r#"{"conect_refused":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`conect_refused` is not a failure"), "{e}");
    }

    #[test]
    fn constructors_keep_the_invariants() {
        assert_eq!(Failure::of(200, ErrorKind::None), None);
        assert_eq!(Failure::of(0, ErrorKind::None), None);
        assert_eq!(
            Failure::of(503, ErrorKind::None),
            Some(Failure::Status(503))
        );
        assert_eq!(
            Failure::of(0, ErrorKind::RequestTimeout),
            Some(Failure::Error(ErrorKind::RequestTimeout))
        );
        assert_eq!(Failure::error(ErrorKind::None), None);
        assert_eq!(Failure::status(399), None);
        assert!(Failure::Error(ErrorKind::AddrNotAvailable).is_socket());
        assert!(!Failure::Error(ErrorKind::RequestTimeout).is_socket());
        assert!(!Failure::Status(503).is_socket());
        assert_eq!(Failure::Status(429).status_code(), Some(429));
        assert_eq!(Failure::Status(429).kind(), None);
    }
}
