//! A request's W3C `traceparent`, read without allocating when it is the well-formed
//! version-00 header a load generator sends on every request; anything else (another
//! version, a `tracestate` to carry, a malformed value) is left to the SDK's propagator.
//! No header at all is a root, as the propagator would find. Whatever the fast path
//! accepts, the SDK's `TraceContextPropagator` reads as the same span context.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// What a request's headers say of its parent.
#[derive(Debug, Clone, PartialEq)]
pub enum Parent {
    /// A well-formed version-00 `traceparent` with no `tracestate`: the remote parent.
    Remote(SpanContext),
    /// Neither header: a root span (the SDK's propagator would find nothing either).
    Absent,
    /// Anything else, for the SDK's propagator.
    Other,
}

const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

impl Parent {
    /// Read the request's `traceparent` (its first, as the propagator does).
    ///
    /// One pass over the few headers a request has, comparing names: two lookups by name
    /// would hash each name, and cost more than the whole walk.
    pub fn of(headers: &http::HeaderMap) -> Parent {
        let mut traceparent = None;
        for (name, value) in headers {
            if *name == TRACESTATE {
                return Parent::Other;
            }
            if traceparent.is_none() && *name == TRACEPARENT {
                traceparent = Some(value);
            }
        }
        match traceparent.map(|v| parse(v.as_bytes())) {
            Some(Some(cx)) => Parent::Remote(cx),
            Some(None) => Parent::Other,
            None => Parent::Absent,
        }
    }
}

/// `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, lowercase hex, neither id all
/// zeros; of the flags only "sampled" is kept (W3C: others are accepted and zeroed).
pub fn parse(v: &[u8]) -> Option<SpanContext> {
    if v.len() != 55 || !v.starts_with(b"00-") || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let trace = hex_u128(&v[3..35])?;
    let span = hex_u128(&v[36..52])? as u64;
    let flags = hex_u128(&v[53..55])? as u8;
    if trace == 0 || span == 0 {
        return None;
    }
    Some(SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// Lowercase hex digits (at most 32) as a number.
fn hex_u128(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |n, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u128::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use std::collections::HashMap;

    /// The SDK's reading of a lone `traceparent`: `None` when it finds no valid parent.
    fn sdk(v: &str) -> Option<SpanContext> {
        let headers = HashMap::from([("traceparent".to_string(), v.to_string())]);
        let cx = TraceContextPropagator::new().extract(&headers);
        let sc = cx.span().span_context().clone();
        sc.is_valid().then_some(sc)
    }

    #[test]
    fn the_fast_path_reads_what_the_sdk_reads_and_leaves_it_the_rest() {
        let cases = [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "",
        ];
        for v in cases {
            match parse(v.as_bytes()) {
                // Whatever the fast path reads, the SDK reads the same.
                Some(fast) => assert_eq!(Some(fast), sdk(v), "{v}"),
                // What it refuses is invalid for the SDK too, or another form the SDK
                // then reads itself.
                None => assert!(
                    sdk(v).is_none() || v.len() != 55 || !v.starts_with("00-"),
                    "{v}"
                ),
            }
        }
        assert!(parse(cases[0].as_bytes()).unwrap().is_sampled());
        assert!(!parse(cases[1].as_bytes()).unwrap().is_sampled());
        assert!(!parse(cases[2].as_bytes()).unwrap().is_sampled());
        assert!(parse(cases[3].as_bytes()).unwrap().is_sampled());
    }

    #[test]
    fn a_tracestate_or_another_version_goes_to_the_sdk() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
        let mut h = http::HeaderMap::new();
        h.insert("traceparent", tp.parse().unwrap());
        assert!(matches!(Parent::of(&h), Parent::Remote(cx) if !cx.is_sampled()));
        h.insert("tracestate", "vendor=1".parse().unwrap());
        assert_eq!(Parent::of(&h), Parent::Other);
        let mut h = http::HeaderMap::new();
        h.insert(
            "traceparent",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-extra"
                .parse()
                .unwrap(),
        );
        assert_eq!(Parent::of(&h), Parent::Other);
        assert_eq!(Parent::of(&http::HeaderMap::new()), Parent::Absent);
        let mut h = http::HeaderMap::new();
        h.insert("tracestate", "vendor=1".parse().unwrap());
        assert_eq!(Parent::of(&h), Parent::Other);
    }

    #[test]
    fn the_first_traceparent_counts_among_other_headers() {
        let first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let second = "00-11111111111111111111111111111111-2222222222222222-00";
        let mut h = http::HeaderMap::new();
        h.insert(http::header::HOST, "localhost".parse().unwrap());
        h.append("traceparent", first.parse().unwrap());
        h.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        h.append("traceparent", second.parse().unwrap());
        assert_eq!(
            Parent::of(&h),
            Parent::Remote(parse(first.as_bytes()).unwrap())
        );
        // A tracestate anywhere, after the traceparent too, goes to the SDK.
        h.insert("x-other", "1".parse().unwrap());
        h.insert("tracestate", "vendor=1".parse().unwrap());
        assert_eq!(Parent::of(&h), Parent::Other);
    }
}
