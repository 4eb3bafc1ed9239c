//! The duration grammar and CPU capacity target-api takes from `satlab-common`, as its
//! flags, query parameters, admin fields and CPU gauge rely on them (these cases lived in
//! target-api's own `units.rs` and `limits.rs` before the shared crate).

use satlab_common::capacity::{affinity_count, own_cpus, parse_cpu_max};
use satlab_common::duration::{format_duration, parse_duration};
use std::time::Duration;

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
        let err = parse_duration(bad).unwrap_err().to_string();
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

#[test]
fn cpu_max_parsing() {
    assert_eq!(parse_cpu_max("max 100000\n"), None);
    assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
    assert_eq!(parse_cpu_max("garbage"), None);
}

#[test]
fn capacity_is_positive_and_at_most_affinity() {
    let c = own_cpus();
    assert!(c > 0.0 && c <= affinity_count(std::process::id()).unwrap() as f64);
}
