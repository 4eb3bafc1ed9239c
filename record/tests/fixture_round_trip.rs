//! The typed failure keys read and write the files exactly as the string keys did: saved
//! runs' `loadgen/summary.json` (written by `fsio::write_json`: pretty JSON and a newline)
//! and `loadgen/seconds.jsonl` (one `serde_json::to_string` per line) re-serialise byte for
//! byte, also with every error kind and several statuses in the maps.

use satlab_record::series::SecondSample;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{ErrorKind, Failure};
use std::path::PathBuf;

/// The saved run directories of the diagnosis's fixtures.
fn runs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../diagnosis/tests/fixtures/runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no runs under {}", root.display());
    dirs
}

/// As `fsio::write_json` writes it.
fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

#[test]
fn saved_summaries_re_serialise_byte_identically() {
    for dir in runs() {
        let path = dir.join("loadgen/summary.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let s: LoadgenSummary = serde_json::from_str(&text).unwrap();
        assert!(
            pretty(&s) == text,
            "{} changed on a round trip",
            path.display()
        );
    }
}

#[test]
fn saved_seconds_re_serialise_byte_identically() {
    for dir in runs() {
        let path = dir.join("loadgen/seconds.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let s: SecondSample = serde_json::from_str(line).unwrap();
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                line,
                "{} line {}",
                path.display(),
                i + 1
            );
        }
    }
}

/// Keys in string order, as the maps of `BTreeMap<String, u64>` were written.
fn string_keyed(keys: impl IntoIterator<Item = String>) -> serde_json::Value {
    let mut keys: Vec<String> = keys.into_iter().collect();
    keys.sort();
    let mut m = serde_json::Map::new();
    for (n, k) in (1u64..).zip(keys) {
        m.insert(k, n.into());
    }
    serde_json::Value::Object(m)
}

/// `text` with the flat map of field `key` (a step's field, indented 4) replaced by `map`.
fn with_map(text: &str, key: &str, map: &serde_json::Value) -> String {
    let start = text.find(&format!("\"{key}\": {{")).expect("the field") + key.len() + 4;
    let end = start + text[start..].find('}').expect("a flat map") + 1;
    let map = serde_json::to_string_pretty(map)
        .unwrap()
        .replace('\n', "\n    ");
    format!("{}{map}{}", &text[..start], &text[end..])
}

#[test]
fn full_maps_keep_their_string_order() {
    let kinds = || ErrorKind::ALL.into_iter().filter(|k| *k != ErrorKind::None);
    let codes = [200u16, 204, 301, 404, 429, 500, 503, 599];
    // The first saved summary with its overall maps filled, written as the string-keyed
    // maps were (a `Value` round trip would sort the struct fields too).
    let path = runs()[0].join("loadgen/summary.json");
    let saved = std::fs::read_to_string(&path).unwrap();
    let at = saved.find("\"overall\": {").expect("an overall step");
    let overall = with_map(
        &saved[at..],
        "errors",
        &string_keyed(kinds().map(|k| k.name().to_string())),
    );
    let overall = with_map(
        &overall,
        "status",
        &string_keyed(codes.map(|c| c.to_string())),
    );
    let text = format!("{}{overall}", &saved[..at]);
    let s: LoadgenSummary = serde_json::from_str(&text).unwrap();
    assert_eq!(s.overall.errors.len(), kinds().count());
    assert_eq!(s.overall.status.len(), codes.len());
    assert!(
        pretty(&s) == text,
        "the full maps changed order:\n{}",
        pretty(&s)
    );

    let failures: Vec<String> = kinds()
        .map(|k| k.name().to_string())
        .chain(
            codes
                .iter()
                .filter(|c| **c >= 400)
                .map(|c| format!("http_{c}")),
        )
        .collect();
    // Field order as the struct writes it (a `json!` object would sort the fields).
    let line = format!(
        r#"{{"t_s":3,"step":1,"requests":10,"ok":0,"errors":{},"p50_us":1,"p99_us":2,"max_us":3,"in_flight":0,"cpu":0.5,"sched_lag_max_us":4,"dropped":0}}"#,
        string_keyed(failures)
    );
    let s: SecondSample = serde_json::from_str(&line).unwrap();
    assert_eq!(s.errors.get(&Failure::Status(503)), Some(&10));
    assert_eq!(serde_json::to_string(&s).unwrap(), line);
}
