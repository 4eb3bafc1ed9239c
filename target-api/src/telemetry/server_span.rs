//! A recorded server span as the request path holds it: the few facts its OTLP encoding
//! needs ([`super::span_proto::span`]), nothing built per request that the encoding does
//! not read. It replaces the SDK's span on the hot path: no `Context`, no span mutex, no
//! attribute list, no `SpanData` handed to a processor.

use super::durations::METHODS;
use opentelemetry::trace::{SpanContext, SpanId};
use satlab_record::ServerEvent;
use std::sync::Arc;

/// A sampled server span between the request's start and its end.
#[derive(Debug, Clone)]
pub struct ServerSpan {
    /// Trace id, span id, trace flags (sampled) and trace state.
    pub context: SpanContext,
    /// The caller's span, when the request carried one (a remote parent).
    pub parent: Option<SpanId>,
    /// The request's method, an index in [`METHODS`].
    pub method: usize,
    /// `http.route`, when a route matched.
    pub route: Option<&'static str>,
    /// `url.path` when it is not the route itself.
    pub path: Option<Box<str>>,
    /// `server.address` and `server.port`: the local address the request came to.
    pub server: Option<(Arc<str>, u16)>,
    /// The attributes above (method, route, `url.path`, `url.scheme`, server), encoded
    /// beforehand for the common case ([`super::span_proto::request_attributes`]); when
    /// present, `path` and `server` are not read.
    pub encoded: Option<Arc<[u8]>>,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
}

/// What is known of a server span when its request ends.
#[derive(Debug, Clone, Copy)]
pub struct SpanEnd<'a> {
    /// End, Unix ns.
    pub end_unix_ns: u64,
    /// `http.response.status_code`; 5xx also sets `error.type` and an error status.
    pub status: u16,
    /// Time waiting for a pool permit (`satlab.pool.wait_ns`), when the pool was used.
    pub pool_wait_ns: Option<i64>,
    /// Server events the request overlapped, as span events.
    pub events: &'a [ServerEvent],
}

impl ServerSpan {
    /// `http.request.method`: the method, or `_OTHER` for one outside the well-known set.
    pub fn method_attribute(&self) -> &'static str {
        METHODS.get(self.method).copied().unwrap_or("_OTHER")
    }

    /// The span's name, as its two parts: `{method} {route}`, or the method alone with no
    /// route (the semantic conventions'; an unknown method is named `HTTP`).
    pub fn name(&self) -> (&'static str, Option<&'static str>) {
        let method = match self.method_attribute() {
            "_OTHER" => "HTTP",
            m => m,
        };
        (method, self.route)
    }
}
