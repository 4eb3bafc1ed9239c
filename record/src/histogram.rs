//! HdrHistograms (µs, 3 significant digits) serialised so runs can be merged exactly:
//! the V2 + DEFLATE encoding of HdrHistogram, base64 in JSON.

use crate::error::RecordError;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Highest trackable latency: one hour in µs. Larger values are clamped to it.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;
/// Significant decimal digits kept.
pub const SIGFIG: u8 = 3;

/// A new empty latency histogram with the lab's settings.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, SIGFIG).expect("valid static bounds")
}

/// Record a latency, clamped to the trackable range.
pub fn record_clamped(h: &mut Histogram<u64>, us: u64) {
    let v = us.clamp(1, MAX_TRACKABLE_US);
    // Cannot fail: the value is within the bounds the histogram was built with.
    let _ = h.record(v);
}

/// Encode as base64 of the V2 + DEFLATE serialisation.
pub fn encode(h: &Histogram<u64>) -> Result<String, RecordError> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| RecordError::Histogram(format!("encode: {e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decode what [`encode`] produced.
pub fn decode(s: &str) -> Result<Histogram<u64>, RecordError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| RecordError::Histogram(format!("base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| RecordError::Histogram(format!("decode: {e:?}")))
}

/// `loadgen/histograms.json`: one histogram per step and one for the whole run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistogramsFile {
    /// Schema id, [`HistogramsFile::SCHEMA`].
    pub schema: String,
    /// Always `"us"`.
    pub unit: String,
    /// Significant digits, 3.
    pub significant_digits: u8,
    /// Per step, measured window only (after the settle time).
    pub steps: Vec<StepHistogram>,
    /// All steps' measured windows merged.
    pub overall: String,
}

impl HistogramsFile {
    /// Schema id of this version.
    pub const SCHEMA: &'static str = "satlab.loadgen.histograms/1";
}

/// One step's encoded histogram.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepHistogram {
    /// The step's index.
    pub step: u32,
    /// [`encode`]d histogram of successful and failed requests' latencies.
    pub latency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_is_exact_and_merges() {
        let mut a = new_latency_histogram();
        let mut b = new_latency_histogram();
        for i in 1..10_000u64 {
            record_clamped(&mut a, i * 13);
            record_clamped(&mut b, i * 17 + 5);
        }
        record_clamped(&mut a, u64::MAX);
        let a2 = decode(&encode(&a).unwrap()).unwrap();
        assert_eq!(a, a2);
        let mut m = a2.clone();
        m.add(decode(&encode(&b).unwrap()).unwrap()).unwrap();
        let mut direct = a.clone();
        direct.add(&b).unwrap();
        assert_eq!(m, direct);
        assert_eq!(a.max(), a.highest_equivalent(MAX_TRACKABLE_US));
        assert!(decode("!!!").is_err());
    }
}
