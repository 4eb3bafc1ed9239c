//! The per-request hot path: the server span (a child of the caller's `traceparent`), the
//! active-request count and the request-duration histogram; pool waits and shed requests.
//!
//! A request the sampler drops costs no allocation here: nothing is built before the
//! sampling decision ([`super::sampling`]), and the duration goes to a bound histogram
//! handle ([`super::durations`]). A sampled one is the service's own [`ServerSpan`],
//! encoded at its end straight into the span queue ([`super::span_queue`]): no SDK span,
//! no `Context`, no attribute list.

use super::durations::{METHODS, attribute_slot, method_index};
use super::handle::Telemetry;
use super::instruments::method_slot;
use super::sampling::Decision;
use super::server_span::{ServerSpan, SpanEnd};
use super::span_proto;
use super::traceparent::Parent;
use crate::routes;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, SamplingDecision, ShouldSample};
use satlab_record::ServerEvent;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// One request's telemetry state between [`Telemetry::start_request`] and
/// [`Telemetry::finish_request`].
#[derive(Debug)]
pub struct RequestTelemetry {
    started: Instant,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
    /// The server span, when it is sampled.
    span: Option<ServerSpan>,
    method_slot: usize,
    method: usize,
    route: Option<usize>,
}

impl RequestTelemetry {
    /// The server span's context (for log records and handlers), when it is sampled.
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.span.as_ref().map(|s| &s.context)
    }
}

impl Telemetry {
    /// Start the server span of a request (child of the caller's `traceparent`) and count it
    /// as active.
    ///
    /// `route` is the matched route's index in [`routes::ALL`].
    pub fn start_request(
        &self,
        method: &http::Method,
        route: Option<usize>,
        path: &str,
        headers: &http::HeaderMap,
        local: Option<std::net::SocketAddr>,
    ) -> RequestTelemetry {
        let started = Instant::now();
        let start_unix_ns = satlab_record::now_unix_ns();
        let method_i = method_index(method);
        let route_name = route.and_then(|r| routes::ALL.get(r).copied());
        let context = match self.span_queue {
            Some(_) => self.sampled_context(method_i, headers),
            None => None,
        };
        let span = context.map(|(context, parent)| {
            let mut span = ServerSpan {
                context,
                parent,
                method: method_i,
                route: route_name,
                // A static route is its own path: no copy of it.
                path: (route_name != Some(path)).then(|| path.into()),
                server: local.map(|a| (self.address_value(a), a.port())),
                start_unix_ns,
                encoded: None,
            };
            span.encoded = self.encoded_attributes(&span, route, local);
            span
        });
        if let Some(inst) = &self.inst {
            inst.active[method_slot(method)].fetch_add(1, Ordering::Relaxed);
        }
        RequestTelemetry {
            started,
            start_unix_ns,
            span,
            method_slot: method_slot(method),
            method: method_i,
            route,
        }
    }

    /// The context of the request's server span and its remote parent's span id, when the
    /// sampler records it; as the SDK's tracer would make it (same trace id, a new span id,
    /// the parent's trace flags with "sampled" set, the sampler's trace state).
    fn sampled_context(
        &self,
        method: usize,
        headers: &http::HeaderMap,
    ) -> Option<(SpanContext, Option<opentelemetry::trace::SpanId>)> {
        let parent = Parent::of(headers);
        let decision = self.sampling.decide(&parent);
        if decision == Decision::Drop {
            return None;
        }
        let parent = match parent {
            Parent::Remote(sc) => Some(sc),
            Parent::Absent => None,
            Parent::Other => {
                let cx = self.propagator.extract(&HeaderExtractor(headers));
                Some(cx.span().span_context().clone())
            }
        }
        .filter(SpanContext::is_valid);
        let trace_id = parent
            .as_ref()
            .map_or_else(|| self.ids.new_trace_id(), SpanContext::trace_id);
        let trace_state = match decision {
            Decision::Record => parent
                .as_ref()
                .map(|p| p.trace_state().clone())
                .unwrap_or_default(),
            _ => self.ask_sampler(parent.as_ref(), trace_id, METHODS[method])?,
        };
        let flags = parent
            .as_ref()
            .map_or(TraceFlags::default(), SpanContext::trace_flags)
            .with_sampled(true);
        let context = SpanContext::new(trace_id, self.ids.new_span_id(), flags, false, trace_state);
        Some((context, parent.map(|p| p.span_id())))
    }

    /// The configured sampler's decision: its trace state when it records and samples.
    /// (A sampler's "record only" is not exported, so it counts as a drop here; the
    /// samplers configured add no attributes and read no span name, so the method stands
    /// in for it.)
    fn ask_sampler(
        &self,
        parent: Option<&SpanContext>,
        trace_id: TraceId,
        name: &str,
    ) -> Option<TraceState> {
        let cx = parent.map(|p| Context::new().with_remote_span_context(p.clone()));
        let result =
            self.sampler
                .should_sample(cx.as_ref(), trace_id, name, &SpanKind::Server, &[], &[]);
        (result.decision == SamplingDecision::RecordAndSample).then_some(result.trace_state)
    }

    /// End the request's span and record its duration. `pool_wait` is the time the
    /// request waited for a pool permit, when it used the pool.
    pub fn finish_request(
        &self,
        req: RequestTelemetry,
        status: u16,
        pool_wait: Option<Duration>,
        events: &[ServerEvent],
    ) {
        let elapsed = req.started.elapsed().as_secs_f64();
        if let (Some(span), Some(queue)) = (&req.span, &self.span_queue) {
            let end = SpanEnd {
                end_unix_ns: satlab_record::now_unix_ns(),
                status,
                pool_wait_ns: pool_wait.map(|w| i64::try_from(w.as_nanos()).unwrap_or(i64::MAX)),
                events,
            };
            queue.push(|out| span_proto::span(out, span, &end));
        }
        if let Some(inst) = &self.inst {
            inst.active[req.method_slot].fetch_sub(1, Ordering::Relaxed);
            inst.request_duration
                .record(elapsed, req.route, req.method, status);
        }
    }

    /// Record time spent waiting for a pool permit in the wait histogram (the request's
    /// span gets it at its end, from [`Telemetry::finish_request`]).
    pub fn pool_wait(&self, wait: Duration) {
        if let Some(inst) = &self.inst {
            inst.pool_wait.record(wait.as_secs_f64(), &[]);
        }
    }

    /// Count a shed request.
    pub fn shed(&self, status: u16) {
        if let Some(inst) = &self.inst {
            inst.shed.add(
                1,
                &[KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                )],
            );
        }
    }

    /// `local`'s IP as an attribute value: the first local address seen is made once and
    /// shared.
    fn address_value(&self, local: std::net::SocketAddr) -> Arc<str> {
        let (cached, value) = self
            .server_address
            .get_or_init(|| (local, Arc::from(local.ip().to_string())));
        if cached.ip() == local.ip() {
            value.clone()
        } else {
            Arc::from(local.ip().to_string())
        }
    }

    /// `span`'s start attributes, encoded once per method and route, when they are those
    /// every such request has: the route's own path, on the first local address.
    fn encoded_attributes(
        &self,
        span: &ServerSpan,
        route: Option<usize>,
        local: Option<std::net::SocketAddr>,
    ) -> Option<Arc<[u8]>> {
        let first = self.server_address.get().map(|(a, _)| *a);
        if span.path.is_some() || span.route.is_none() || local.is_none() || local != first {
            return None;
        }
        let slot = self
            .encoded_attributes
            .get(attribute_slot(route, span.method))?;
        Some(
            slot.get_or_init(|| {
                let mut out = Vec::new();
                span_proto::request_attributes(&mut out, span);
                out.into()
            })
            .clone(),
        )
    }
}
