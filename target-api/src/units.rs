//! Human durations (`200us`, `50ms`, `2s`): parsing for flags, query parameters and the
//! admin API, and the matching compact formatting.

use std::time::Duration;

/// Parse a duration written as a number and a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m`.
/// A bare `0` is accepted. Fractions are allowed (`1.5ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let hint = "write a number with a unit, e.g. 200us, 50ms, 2s";
    if num.is_empty() {
        return Err(format!("invalid duration '{text}': {hint}"));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration '{text}': {hint}"))?;
    let scale_ns = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "" => return Err(format!("duration '{text}' has no unit: {hint}")),
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in duration '{text}': {hint}"
            ));
        }
    };
    let ns = value * scale_ns;
    // One day is far beyond every cap; refusing it keeps the arithmetic safe.
    if !ns.is_finite() || ns > 86_400e9 {
        return Err(format!("duration '{text}' is too long (at most 24h)"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

/// Format a duration with the largest unit that represents it exactly (`0s`, `200us`, `1500ms`).
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

/// Parse a non-negative integer with a readable error.
pub fn parse_count(text: &str) -> Result<u64, String> {
    text.trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| format!("invalid count '{text}': write a whole number such as 1000"))
}

/// Serde adapter: durations as human strings (`"50ms"`) in JSON.
pub mod serde_duration {
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

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn rejects_bad_durations_with_a_hint() {
        for bad in ["", "ms", "5", "5x", "-1s", "1e3ms", "99999h", "100000m"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for d in [
            0u64,
            1,
            1_000,
            200_000,
            50_000_000,
            2_000_000_000,
            1_500_000,
        ] {
            let d = Duration::from_nanos(d);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_micros(200)), "200us");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
