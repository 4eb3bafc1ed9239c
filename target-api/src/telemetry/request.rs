//! The per-request hot path: the server span (a child of the caller's `traceparent`), the
//! active-request count and the request-duration histogram; pool waits (also on the span)
//! and shed requests.
//!
//! A request the sampler drops costs no allocation here: no attribute is built before the
//! sampling decision (a span sure to be recorded, [`super::sampling`], gets its attributes
//! with the builder), a dropped span is not put in a context, and the duration goes to a
//! bound histogram handle ([`super::durations`]).

use super::durations::{METHODS, method_index};
use super::handle::Telemetry;
use super::instruments::method_slot;
use super::sampling::Decision;
use super::server_events::event_attributes;
use super::traceparent::Parent;
use crate::routes;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use satlab_record::ServerEvent;
use satlab_record::telemetry::ATTR_POOL_WAIT_NS;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, UNIX_EPOCH};

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
    /// The context holding the server span, when it is recorded.
    pub cx: Option<Context>,
    method: usize,
    method_slot: usize,
    route: Option<usize>,
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
        let method_i = method_index(method);
        let route_name = route.and_then(|r| routes::ALL.get(r).copied());
        let mut cx = None;
        if let Some(tracer) = &self.tracer {
            let parent = Parent::of(headers);
            let decision = self.sampling.decide(&parent);
            if decision != Decision::Drop {
                let parent = match parent {
                    Parent::Remote(sc) => Context::current().with_remote_span_context(sc),
                    Parent::Absent => Context::current(),
                    Parent::Other => self.propagator.extract(&HeaderExtractor(headers)),
                };
                let name: std::borrow::Cow<'static, str> = match route_name {
                    Some(routes::VECTOR_ADD) if method == http::Method::POST => {
                        "POST /api/vector/add".into()
                    }
                    Some(r) => format!("{} {r}", method.as_str()).into(),
                    None => METHODS[method_i].into(),
                };
                let mut builder = tracer.span_builder(name).with_kind(SpanKind::Server);
                // A span sure to be recorded gets its attributes with the builder, in one
                // list; otherwise none is built before the sampler has decided.
                if decision == Decision::Record {
                    builder = builder
                        .with_attributes(self.span_attributes(method_i, route_name, path, local));
                }
                let mut span = builder.start_with_context(tracer, &parent);
                if span.is_recording() {
                    if decision == Decision::Ask {
                        span.set_attributes(
                            self.span_attributes(method_i, route_name, path, local),
                        );
                    }
                    cx = Some(parent.with_span(span));
                }
            }
        }
        if let Some(inst) = &self.inst {
            inst.active[method_slot(method)].fetch_add(1, Ordering::Relaxed);
        }
        RequestTelemetry {
            started,
            start_unix_ns: satlab_record::now_unix_ns(),
            cx,
            method: method_i,
            method_slot: method_slot(method),
            route,
        }
    }

    /// End the request's span and record its duration.
    pub fn finish_request(&self, req: RequestTelemetry, status: u16, events: &[ServerEvent]) {
        let elapsed = req.started.elapsed().as_secs_f64();
        if let Some(cx) = &req.cx {
            let span = cx.span();
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            if status >= 500 {
                span.set_attribute(KeyValue::new("error.type", status.to_string()));
                span.set_status(Status::error(""));
            }
            for e in events {
                span.add_event_with_timestamp(
                    e.kind.event_name(),
                    UNIX_EPOCH + Duration::from_nanos(e.start_unix_ns),
                    event_attributes(e),
                );
            }
            span.end();
        }
        if let Some(inst) = &self.inst {
            inst.active[req.method_slot].fetch_sub(1, Ordering::Relaxed);
            inst.request_duration
                .record(elapsed, req.route, req.method, status);
        }
    }

    /// Record time spent waiting for a pool permit: in the wait histogram and, when the
    /// request's server span is recorded, as its [`ATTR_POOL_WAIT_NS`] (integer ns).
    pub fn pool_wait(&self, wait: Duration, cx: Option<&Context>) {
        if let Some(inst) = &self.inst {
            inst.pool_wait.record(wait.as_secs_f64(), &[]);
        }
        if let Some(cx) = cx {
            let span = cx.span();
            if span.is_recording() {
                let ns = i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX);
                span.set_attribute(KeyValue::new(ATTR_POOL_WAIT_NS, ns));
            }
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

    /// The attributes of a recorded server span, with room for those set later (the
    /// status code, an error type, a pool wait).
    fn span_attributes(
        &self,
        method: usize,
        route: Option<&'static str>,
        path: &str,
        local: Option<std::net::SocketAddr>,
    ) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(9);
        attrs.push(KeyValue::new("http.request.method", METHODS[method]));
        if let Some(r) = route {
            attrs.push(KeyValue::new("http.route", r));
        }
        // A static route is its own path: no copy of it.
        let path: opentelemetry::StringValue = match route {
            Some(r) if r == path => r.into(),
            _ => path.to_string().into(),
        };
        attrs.push(KeyValue::new("url.path", path));
        attrs.push(KeyValue::new("url.scheme", "http"));
        if let Some(local) = local {
            attrs.push(KeyValue::new(
                "server.address",
                self.address_value(local.ip()),
            ));
            attrs.push(KeyValue::new("server.port", i64::from(local.port())));
        }
        attrs
    }

    /// `ip` as an attribute value: the first local address seen is made once and shared.
    fn address_value(&self, ip: std::net::IpAddr) -> opentelemetry::StringValue {
        let (cached, value) = self
            .server_address
            .get_or_init(|| (ip, std::sync::Arc::<str>::from(ip.to_string()).into()));
        if *cached == ip {
            value.clone()
        } else {
            ip.to_string().into()
        }
    }
}
