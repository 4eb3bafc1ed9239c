//! What the configured sampler decides before it is asked: the samplers target-api
//! configures read neither a span's attributes nor its name, so for some parents their
//! answer is known from the sampler alone. A request known to be dropped costs nothing
//! more; one known to be recorded skips the sampler's call (and, for a remote parent, the
//! `Context` the call needs).

use super::traceparent::Parent;
use satlab_common::otel_env::SamplerSpec;

/// The sampler's decision for one parent, when known beforehand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Recorded and sampled whatever the SDK would look at.
    Record,
    /// Dropped.
    Drop,
    /// Only the sampler can say (a ratio, or a parent the SDK's propagator reads).
    Ask,
}

/// The sampler's decisions known from its configuration alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shortcuts {
    /// Every span is recorded (`always_on`, a ratio of 1 or more).
    records_all: bool,
    /// A remote parent's sampled flag is followed (parent-based, with the SDK's default
    /// delegates: a sampled remote parent's child is recorded, an unsampled one's dropped).
    follows_parent: bool,
    /// Under `follows_parent`, a root span is always recorded (`parentbased_always_on`).
    records_roots: bool,
}

impl Shortcuts {
    /// What `sampler` decides without being asked.
    pub fn of(sampler: SamplerSpec) -> Self {
        let parent_based = |records_roots| Shortcuts {
            records_all: false,
            follows_parent: true,
            records_roots,
        };
        match sampler {
            SamplerSpec::AlwaysOn => Shortcuts {
                records_all: true,
                ..Shortcuts::default()
            },
            SamplerSpec::TraceIdRatio(r) => Shortcuts {
                records_all: r >= 1.0,
                ..Shortcuts::default()
            },
            SamplerSpec::AlwaysOff => Shortcuts::default(),
            SamplerSpec::ParentBasedAlwaysOn => parent_based(true),
            SamplerSpec::ParentBasedTraceIdRatio(r) => parent_based(r >= 1.0),
            SamplerSpec::ParentBasedAlwaysOff => parent_based(false),
        }
    }

    /// The decision for a span whose parent is `parent`.
    pub fn decide(&self, parent: &Parent) -> Decision {
        if self.records_all {
            return Decision::Record;
        }
        if !self.follows_parent {
            return Decision::Ask;
        }
        match parent {
            Parent::Remote(cx) if cx.is_sampled() => Decision::Record,
            Parent::Remote(_) => Decision::Drop,
            Parent::Absent if self.records_roots => Decision::Record,
            Parent::Absent | Parent::Other => Decision::Ask,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::sdk_sampler;
    use crate::telemetry::traceparent::parse;
    use opentelemetry::Context;
    use opentelemetry::trace::{SpanKind, TraceContextExt, TraceId};
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

    const SAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const UNSAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

    /// What the SDK's sampler itself decides for `parent`, over many trace ids.
    fn sdk_decisions(spec: SamplerSpec, parent: &Parent) -> Vec<SamplingDecision> {
        let sampler = sdk_sampler(spec);
        let cx = match parent {
            Parent::Remote(sc) => Context::new().with_remote_span_context(sc.clone()),
            _ => Context::new(),
        };
        (1..=200u128)
            .map(|i| {
                let id = TraceId::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
                sampler
                    .should_sample(Some(&cx), id, "span", &SpanKind::Server, &[], &[])
                    .decision
            })
            .collect()
    }

    #[test]
    fn a_known_decision_is_the_sdk_samplers_own() {
        let samplers = [
            SamplerSpec::AlwaysOn,
            SamplerSpec::AlwaysOff,
            SamplerSpec::TraceIdRatio(0.5),
            SamplerSpec::TraceIdRatio(1.0),
            SamplerSpec::ParentBasedAlwaysOn,
            SamplerSpec::ParentBasedAlwaysOff,
            SamplerSpec::ParentBasedTraceIdRatio(0.01),
            SamplerSpec::ParentBasedTraceIdRatio(1.0),
        ];
        let parents = [
            Parent::Remote(parse(SAMPLED.as_bytes()).unwrap()),
            Parent::Remote(parse(UNSAMPLED.as_bytes()).unwrap()),
            Parent::Absent,
        ];
        let mut known = 0;
        for s in samplers {
            for p in &parents {
                let sdk = sdk_decisions(s, p);
                match Shortcuts::of(s).decide(p) {
                    Decision::Record => {
                        known += 1;
                        assert!(
                            sdk.iter().all(|d| *d == SamplingDecision::RecordAndSample),
                            "{s:?} {p:?}"
                        );
                    }
                    Decision::Drop => {
                        known += 1;
                        assert!(
                            sdk.iter().all(|d| *d == SamplingDecision::Drop),
                            "{s:?} {p:?}"
                        );
                    }
                    Decision::Ask => {}
                }
            }
        }
        // always_on and ratio 1 for every parent; each parent-based sampler's two
        // remote parents, and the root under parentbased_always_on and a ratio of 1.
        assert_eq!(known, 3 + 3 + 4 * 2 + 2);
        let on = Shortcuts::of(SamplerSpec::AlwaysOn);
        assert_eq!(on.decide(&Parent::Other), Decision::Record);
        let parent_on = Shortcuts::of(SamplerSpec::ParentBasedAlwaysOn);
        assert_eq!(parent_on.decide(&Parent::Other), Decision::Ask);
    }
}
