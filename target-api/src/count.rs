//! Counts written by people (`1000`, `1_000`): flags and query parameters. (Durations are
//! `satlab_common::duration`.)

/// Parse a non-negative integer with a readable error.
pub fn parse_count(text: &str) -> Result<u64, String> {
    text.trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|_| format!("invalid count '{text}': write a whole number such as 1000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_separators() {
        assert_eq!(parse_count(" 1_000 "), Ok(1000));
        assert_eq!(parse_count("0"), Ok(0));
        for bad in ["", "-1", "1.5", "1e3", "ten"] {
            let err = parse_count(bad).unwrap_err();
            assert!(err.contains("whole number"), "{bad}: {err}");
        }
    }
}
