//! Human durations, one grammar for every flag, query parameter, admin field and scenario
//! file: a number and a unit, or several in a row (`250ms`, `30s`, `1.5s`, `1m30s`, `1h`).
//! Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. A bare `0` is accepted; any other bare
//! number is refused, since `20` could mean seconds or milliseconds.

use std::fmt;
use std::time::Duration;

/// The longest duration accepted: one day is beyond every cap in satlab, and refusing
/// more keeps the arithmetic safe.
pub const MAX: Duration = Duration::from_secs(86_400);

/// The accepted forms, as every error states them.
pub const FORMS: &str =
    "a number and a unit (ns, us, ms, s, m, h), or several in a row: 250ms, 30s, 1.5s, 1m30s, 1h";

/// What is wrong with a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing was written.
    Empty,
    /// A number without a unit (other than `0`).
    NoUnit,
    /// A unit that is not one of ours.
    UnknownUnit(String),
    /// A unit without a number, or a number that does not parse.
    BadNumber,
    /// Longer than [`MAX`].
    TooLong,
    /// Zero where a positive duration is required.
    Zero,
}

/// A duration that could not be parsed; its message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DurationError {
    /// What was written.
    pub input: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = &self.input;
        match &self.problem {
            Problem::Empty => write!(f, "empty duration: write {FORMS}"),
            Problem::NoUnit => write!(f, "duration '{input}' has no unit: write {FORMS}"),
            Problem::UnknownUnit(u) => {
                write!(f, "unknown unit '{u}' in duration '{input}': write {FORMS}")
            }
            Problem::BadNumber => write!(f, "invalid duration '{input}': write {FORMS}"),
            Problem::TooLong => write!(f, "duration '{input}' is too long (at most 24h)"),
            Problem::Zero => write!(f, "duration '{input}' must be above zero"),
        }
    }
}

/// Parse a duration (see the module doc for the grammar).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = |problem| DurationError {
        input: text.to_string(),
        problem,
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(err(Problem::Empty));
    }
    if t.bytes().all(|b| b == b'0' || b == b'.') && t.bytes().any(|b| b == b'0') {
        return Ok(Duration::ZERO);
    }
    let mut rest = t;
    let mut total_ns = 0f64;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(split);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if num.is_empty() {
            return Err(err(Problem::BadNumber));
        }
        if unit.is_empty() {
            return Err(err(Problem::NoUnit));
        }
        let value: f64 = num.parse().map_err(|_| err(Problem::BadNumber))?;
        let scale_ns = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(err(Problem::UnknownUnit(other.to_string()))),
        };
        total_ns += value * scale_ns;
        rest = next;
    }
    if !total_ns.is_finite() || total_ns > MAX.as_nanos() as f64 {
        return Err(err(Problem::TooLong));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

/// Parse a duration that must be above zero (a period, a timeout, a step length).
pub fn parse_positive_duration(text: &str) -> Result<Duration, DurationError> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(DurationError {
            input: text.to_string(),
            problem: Problem::Zero,
        });
    }
    Ok(d)
}

/// Format with the largest unit that represents the duration exactly (`0s`, `200us`,
/// `1500ms`, `90s`): the inverse of [`parse_duration`].
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    for (unit, scale) in [("s", 1_000_000_000u128), ("ms", 1_000_000), ("us", 1_000)] {
        if ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// Serde adapter: durations as human strings (`"50ms"`) in JSON and TOML.
pub mod serde_human {
    use super::{format_duration, parse_duration};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Serialize as a human string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Deserialize from a human string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>` (absent = unchanged).
    pub mod option {
        use super::*;

        /// Serialize an optional duration.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        /// Deserialize an optional duration.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn single_units() {
        assert_eq!(ok("250ns"), Duration::from_nanos(250));
        assert_eq!(ok("200us"), Duration::from_micros(200));
        assert_eq!(ok("200µs"), Duration::from_micros(200));
        assert_eq!(ok("50ms"), Duration::from_millis(50));
        assert_eq!(ok("1.5ms"), Duration::from_micros(1500));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok(" 2m "), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
    }

    #[test]
    fn compound_forms() {
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1h2m3s"), Duration::from_secs(3723));
        assert_eq!(ok("1s500ms"), Duration::from_millis(1500));
        assert_eq!(ok("2m0.5s"), Duration::from_millis(120_500));
    }

    #[test]
    fn errors_name_the_problem_and_the_forms() {
        let cases = [
            ("", Problem::Empty),
            ("20", Problem::NoUnit),
            ("1m30", Problem::NoUnit),
            ("ms", Problem::BadNumber),
            ("1..5s", Problem::BadNumber),
            ("5x", Problem::UnknownUnit("x".into())),
            ("-1s", Problem::BadNumber),
            ("1e3ms", Problem::UnknownUnit("e".into())),
            ("25h", Problem::TooLong),
            ("100000m", Problem::TooLong),
        ];
        for (input, problem) in cases {
            let e = parse_duration(input).unwrap_err();
            assert_eq!(e.problem, problem, "{input}");
            let msg = e.to_string();
            if !matches!(problem, Problem::TooLong) {
                assert!(
                    msg.contains("1m30s") && msg.contains("ms"),
                    "{input}: {msg}"
                );
            }
        }
        assert_eq!(
            parse_positive_duration("0s").unwrap_err().problem,
            Problem::Zero
        );
        assert_eq!(parse_positive_duration("5ms"), Ok(Duration::from_millis(5)));
    }

    #[test]
    fn serde_round_trip() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "serde_human")]
            d: Duration,
            #[serde(with = "serde_human::option", default)]
            o: Option<Duration>,
        }
        let t = T {
            d: Duration::from_millis(1500),
            o: Some(Duration::from_secs(90)),
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"d":"1500ms","o":"90s"}"#);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let e = serde_json::from_str::<T>(r#"{"d":"20"}"#).unwrap_err();
        assert!(e.to_string().contains("no unit"), "{e}");
    }

    proptest! {
        #[test]
        fn format_parses_back(ns in 0u64..86_400_000_000_000) {
            let d = Duration::from_nanos(ns);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
