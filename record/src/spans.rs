//! `otlp/spans.jsonl`: the timing of each kept span (one JSON object a line), enough to
//! join a client span with the server span whose parent it is and to split the request's
//! latency into parts; and the store's account of what it kept ([`SpanTimingStats`], in
//! `otlp/spans.json`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span's kind, as OTLP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Not said.
    Unspecified,
    /// Internal work.
    Internal,
    /// The server side of a request (the handler).
    Server,
    /// The client side of a request (the load generator's).
    Client,
    /// A message producer.
    Producer,
    /// A message consumer.
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum value (`0..=5`); unknown values are `Unspecified`.
    pub fn from_otlp(v: i32) -> SpanKind {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
}

/// The timing of one span, with the few attributes the diagnosis uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTiming {
    /// Trace id (32 hex digits in JSON).
    #[serde(with = "hex128")]
    pub trace_id: u128,
    /// Span id (16 hex digits).
    #[serde(with = "hex64")]
    pub span_id: u64,
    /// Parent span id, `null` for a root span.
    #[serde(with = "opt_hex64", default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<u64>,
    /// Kind.
    pub kind: SpanKind,
    /// The sending service's `service.name`.
    pub service: String,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
    /// End, Unix ns.
    pub end_unix_ns: u64,
    /// Status error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub error: bool,
    /// `http.response.status_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Client spans: the load step (`satlab.step`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// Client spans of an open-loop run: when the request was meant to be sent, Unix ns
    /// (`satlab.intended_start_unix_nano`); the span starts at the actual send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_unix_ns: Option<u64>,
    /// Server spans: time spent waiting for a pool permit, ns (`satlab.pool.wait_ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_wait_ns: Option<u64>,
}

impl SpanTiming {
    /// Duration, ns.
    pub fn duration_ns(&self) -> u64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns)
    }
}

/// What the span store kept and dropped over a run (`otlp/spans.json`, field `timings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanTimingStats {
    /// Most spans kept.
    pub cap: u64,
    /// The store's trace-id ratio at the end (see [`crate::trace_sampling`]): 1 until the
    /// cap forced it down; every trace of the run was judged by this final ratio.
    pub ratio: f64,
    /// Spans received.
    pub received: u64,
    /// Spans kept (written to `otlp/spans.jsonl`).
    pub kept: u64,
    /// Spans dropped by the ratio (when the cap was reached), earlier kept ones included.
    pub dropped_by_ratio: u64,
    /// Spans the store held but did not write because they started outside the written
    /// window (`observer serve` writes one run's window); `received = kept +
    /// dropped_by_ratio + outside_window`.
    #[serde(default)]
    pub outside_window: u64,
}

mod hex128 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:032x}"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let t = String::deserialize(d)?;
        if t.len() != 32 {
            return Err(serde::de::Error::custom("a trace id is 32 hex digits"));
        }
        u128::from_str_radix(&t, 16).map_err(serde::de::Error::custom)
    }
}

mod hex64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let t = String::deserialize(d)?;
        if t.len() != 16 {
            return Err(serde::de::Error::custom("a span id is 16 hex digits"));
        }
        u64::from_str_radix(&t, 16).map_err(serde::de::Error::custom)
    }
}

mod opt_hex64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => hex64::serialize(v, s),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "hex64")] u64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_round_trips_with_hex_ids() {
        let s = SpanTiming {
            trace_id: 0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            span_id: 0xfeed_beef_0000_0001,
            parent_span_id: Some(0xabcd),
            kind: SpanKind::Server,
            service: "target-api".into(),
            start_unix_ns: 10,
            end_unix_ns: 25,
            error: false,
            status: Some(200),
            step: None,
            intended_unix_ns: None,
            pool_wait_ns: Some(3),
        };
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"0123456789abcdef0011223344556677\""), "{j}");
        assert!(j.contains("\"000000000000abcd\""), "{j}");
        assert!(!j.contains("step"), "absent fields are left out: {j}");
        assert_eq!(serde_json::from_str::<SpanTiming>(&j).unwrap(), s);
        assert_eq!(s.duration_ns(), 15);
        let bad = j.replace("0123456789abcdef0011223344556677", "12");
        assert!(serde_json::from_str::<SpanTiming>(&bad).is_err());
    }
}
