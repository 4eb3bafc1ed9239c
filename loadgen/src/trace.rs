//! W3C `traceparent` generation: a random 16-byte trace id and 8-byte span id per
//! request, the sampled flag set by the run's one sampling rule
//! ([`satlab_record::trace_sampling`]): a function of the trace id alone, so whoever keeps
//! fewer traces later (the observer's span store) keeps a subset of whole traces.

use http::HeaderValue;
use satlab_common::rng::SplitMix64;
use satlab_record::trace_sampling;

/// A generator (SplitMix64, one per worker: no shared state) seeded from the OS plus
/// `salt` (e.g. the worker index), so two runs draw different trace ids.
pub fn os_seeded(salt: u64) -> SplitMix64 {
    SplitMix64::new(rand::random::<u64>() ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The ids and flag of one request's client span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// 16-byte trace id (never zero).
    pub trace_id: u128,
    /// 8-byte span id of the client span (never zero).
    pub span_id: u64,
    /// The sampled flag.
    pub sampled: bool,
}

impl TraceContext {
    /// Write the `traceparent` value `00-<trace id>-<span id>-<flags>` into `out`, in
    /// place and without allocating (the HTTP/1 request template's 55 bytes).
    pub fn write_traceparent(&self, out: &mut [u8; TRACEPARENT_LEN]) {
        out[..3].copy_from_slice(b"00-");
        hex_u64((self.trace_id >> 64) as u64, &mut out[3..19]);
        hex_u64(self.trace_id as u64, &mut out[19..35]);
        out[35] = b'-';
        hex_u64(self.span_id, &mut out[36..52]);
        out[52] = b'-';
        out[53] = b'0';
        out[54] = if self.sampled { b'1' } else { b'0' };
    }

    /// The `traceparent` header value (HTTP/2 requests).
    pub fn header(&self) -> HeaderValue {
        let mut b = [0u8; TRACEPARENT_LEN];
        self.write_traceparent(&mut b);
        // Only hex digits and dashes: always a valid header value.
        HeaderValue::from_bytes(&b).unwrap_or_else(|_| HeaderValue::from_static("00-0-0-00"))
    }
}

/// Length of a `traceparent` value.
pub const TRACEPARENT_LEN: usize = 55;

/// Two lowercase hex digits per byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// `x` as 16 lowercase hex digits, most significant first, into `out` (16 bytes).
fn hex_u64(x: u64, out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(x.to_be_bytes()) {
        pair.copy_from_slice(&HEX_PAIRS[byte as usize]);
    }
}

/// Generates trace contexts with a sampling ratio.
#[derive(Debug, Clone)]
pub struct TraceGen {
    rng: SplitMix64,
    ratio: f64,
}

impl TraceGen {
    /// A generator sampling `ratio` (clamped to 0..=1) of requests.
    pub fn new(rng: SplitMix64, ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        TraceGen { rng, ratio }
    }

    /// The next request's context; sampled iff its trace id is kept at the ratio.
    pub fn next_context(&mut self) -> TraceContext {
        let hi = self.rng.next_u64();
        let lo = self.rng.next_u64();
        let trace_id = (((hi as u128) << 64) | lo as u128).max(1);
        let span_id = self.rng.next_u64().max(1);
        TraceContext {
            trace_id,
            span_id,
            sampled: trace_sampling::sampled(trace_id, self.ratio),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_format_and_sampling_ratio() {
        let mut g = TraceGen::new(SplitMix64::new(7), 0.25);
        let mut sampled = 0;
        for _ in 0..10_000 {
            let c = g.next_context();
            let h = c.header();
            let s = h.to_str().unwrap();
            assert_eq!(s.len(), 55);
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(parts[0], "00");
            assert_eq!(u128::from_str_radix(parts[1], 16).unwrap(), c.trace_id);
            assert_eq!(u64::from_str_radix(parts[2], 16).unwrap(), c.span_id);
            assert_eq!(parts[3], if c.sampled { "01" } else { "00" });
            assert_eq!(
                c.sampled,
                trace_sampling::sampled(c.trace_id, 0.25),
                "the flag is the trace id's rule, not a separate draw"
            );
            sampled += c.sampled as u32;
        }
        assert!((2000..3000).contains(&sampled), "{sampled}");
        let mut all = TraceGen::new(SplitMix64::new(1), 1.0);
        assert!((0..100).all(|_| all.next_context().sampled));
        let mut none = TraceGen::new(SplitMix64::new(1), 0.0);
        assert!((0..100).all(|_| !none.next_context().sampled));
    }

    #[test]
    fn written_in_place_over_any_previous_bytes() {
        let mut g = TraceGen::new(SplitMix64::new(3), 0.5);
        let mut b = [b'x'; TRACEPARENT_LEN];
        for _ in 0..1000 {
            let c = g.next_context();
            c.write_traceparent(&mut b);
            let want = format!(
                "00-{:032x}-{:016x}-{:02x}",
                c.trace_id, c.span_id, c.sampled as u8
            );
            assert_eq!(std::str::from_utf8(&b).unwrap(), want);
        }
    }
}
