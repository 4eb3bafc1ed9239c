//! The per-request hot path: the server span (a child of the caller's `traceparent`), the
//! active-request count and the request-duration histogram; pool waits (also on the span)
//! and shed requests.

use super::handle::Telemetry;
use super::instruments::method_slot;
use super::server_events::event_attributes;
use crate::routes;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
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
    /// The context holding the server span (when tracing is on).
    pub cx: Option<Context>,
    method_kv: KeyValue,
    method_slot: usize,
    route_kv: Option<KeyValue>,
}

impl Telemetry {
    /// Start the server span of a request (child of the caller's `traceparent`) and count it
    /// as active.
    pub fn start_request(
        &self,
        method: &http::Method,
        route: Option<&str>,
        path: &str,
        headers: &http::HeaderMap,
        local: Option<std::net::SocketAddr>,
    ) -> RequestTelemetry {
        let started = Instant::now();
        let method_kv = KeyValue::new("http.request.method", static_method(method));
        let route_kv = route.map(|r| KeyValue::new("http.route", static_route(r)));
        let mut cx = None;
        if let Some(tracer) = &self.tracer {
            let parent = self.propagator.extract(&HeaderExtractor(headers));
            let name: std::borrow::Cow<'static, str> = match route {
                Some(routes::VECTOR_ADD) if method == http::Method::POST => {
                    "POST /api/vector/add".into()
                }
                Some(r) => format!("{} {r}", method.as_str()).into(),
                None => method.as_str().to_string().into(),
            };
            // The sampler sees method and route; the rest is added only to recorded spans,
            // so unsampled requests (ratio sampling) cost little.
            let mut attrs = Vec::with_capacity(2);
            attrs.push(method_kv.clone());
            if let Some(r) = &route_kv {
                attrs.push(r.clone());
            }
            let span = tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attrs)
                .start_with_context(tracer, &parent);
            let cx_span = parent.with_span(span);
            {
                let span = cx_span.span();
                if span.is_recording() {
                    span.set_attribute(KeyValue::new("url.path", path.to_string()));
                    span.set_attribute(KeyValue::new("url.scheme", "http"));
                    if let Some(local) = local {
                        span.set_attribute(KeyValue::new("server.address", local.ip().to_string()));
                        span.set_attribute(KeyValue::new("server.port", i64::from(local.port())));
                    }
                }
            }
            cx = Some(cx_span);
        }
        if let Some(inst) = &self.inst {
            inst.active[method_slot(method)].fetch_add(1, Ordering::Relaxed);
        }
        RequestTelemetry {
            started,
            start_unix_ns: satlab_record::now_unix_ns(),
            cx,
            method_kv,
            method_slot: method_slot(method),
            route_kv,
        }
    }

    /// End the request's span and record its duration.
    pub fn finish_request(&self, req: RequestTelemetry, status: u16, events: &[ServerEvent]) {
        let elapsed = req.started.elapsed().as_secs_f64();
        let status_kv = KeyValue::new("http.response.status_code", i64::from(status));
        if let Some(cx) = &req.cx {
            let span = cx.span();
            span.set_attribute(status_kv.clone());
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
            let mut attrs = vec![
                req.method_kv,
                status_kv,
                KeyValue::new("url.scheme", "http"),
            ];
            if let Some(r) = req.route_kv {
                attrs.push(r);
            }
            inst.request_duration.record(elapsed, &attrs);
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
}

fn static_method(m: &http::Method) -> opentelemetry::StringValue {
    use http::Method;
    let s: &'static str = match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        // Semantic conventions: unknown methods are reported as _OTHER.
        _ => "_OTHER",
    };
    s.into()
}

/// The route as a static string where it is one of ours (no allocation per request).
fn static_route(r: &str) -> opentelemetry::StringValue {
    match routes::ALL.iter().find(|known| **known == r) {
        Some(known) => (*known).into(),
        None => r.to_string().into(),
    }
}
