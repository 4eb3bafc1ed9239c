//! OTLP/protobuf encoding of finished server spans, from the service's own record
//! ([`ServerSpan`], [`SpanEnd`]) straight into bytes: each span is encoded once, on the
//! request's thread, as one `ScopeSpans.spans` field, and a batch of them is wrapped in an
//! `ExportTraceServiceRequest` by [`SpanEncoder::request`]. No SDK span, no `SpanData`,
//! no proto structs in between. The bytes are exactly those prost writes for
//! opentelemetry-proto's conversion of the `SpanData` the SDK would have made for the same
//! request (tested).

use super::event_attributes::event_attributes;
use super::server_span::{ServerSpan, SpanEnd};
use opentelemetry::trace::TraceState;
use opentelemetry::{Array, Value};
use opentelemetry_sdk::Resource;
use satlab_record::telemetry::ATTR_POOL_WAIT_NS;

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags`: the context's "is remote" bit is known; and set.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// `Span.SpanKind.SPAN_KIND_SERVER`.
const KIND_SERVER: u64 = 2;
/// `Status.StatusCode.STATUS_CODE_ERROR`.
const STATUS_ERROR: u64 = 2;

/// Wraps encoded spans of one resource and one instrumentation scope into export requests.
#[derive(Debug, Clone, Default)]
pub struct SpanEncoder {
    /// `ResourceSpans.resource`, tag and length included: encoded once.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url`.
    schema_url: String,
    /// `ScopeSpans.scope`, tag and length included.
    scope: Vec<u8>,
}

impl SpanEncoder {
    /// An encoder for spans of `resource`, recorded by the instrumentation scope `scope`
    /// (a name, no version).
    pub fn new(resource: &Resource, scope: &str) -> Self {
        let mut buf = Vec::new();
        let at = open(&mut buf, 1);
        for (k, v) in resource.iter() {
            key_value(&mut buf, 1, k.as_str(), v);
        }
        close(&mut buf, at);
        let mut scope_buf = Vec::new();
        let at = open(&mut scope_buf, 1);
        string(&mut scope_buf, 1, scope);
        close(&mut scope_buf, at);
        SpanEncoder {
            resource: buf,
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
            scope: scope_buf,
        }
    }

    /// One `ExportTraceServiceRequest` holding `spans` (spans as [`span`] appends them):
    /// one `ResourceSpans`, one `ScopeSpans`. Lengths are computed first, so the spans
    /// are copied once.
    pub fn request(&self, spans: &[u8]) -> Vec<u8> {
        let scope_spans = (self.scope.len() + spans.len()) as u64;
        let schema = self.schema_url.len() as u64;
        let schema_field = if schema == 0 {
            0
        } else {
            1 + varint_len(schema) + schema
        };
        let resource_spans =
            self.resource.len() as u64 + 1 + varint_len(scope_spans) + scope_spans + schema_field;
        let mut out = Vec::with_capacity(resource_spans as usize + 12);
        tag(&mut out, 1, LEN);
        varint(&mut out, resource_spans);
        out.extend_from_slice(&self.resource);
        tag(&mut out, 2, LEN);
        varint(&mut out, scope_spans);
        out.extend_from_slice(&self.scope);
        out.extend_from_slice(spans);
        string(&mut out, 3, &self.schema_url);
        out
    }
}

/// Append the span `s`, ended as `end` says, to `out` as one `ScopeSpans.spans` field.
pub fn span(out: &mut Vec<u8>, s: &ServerSpan, end: &SpanEnd<'_>) {
    let at = open(out, 2);
    let cx = &s.context;
    bytes(out, 1, &cx.trace_id().to_bytes());
    bytes(out, 2, &cx.span_id().to_bytes());
    trace_state(out, 3, cx.trace_state());
    if let Some(parent) = s.parent {
        bytes(out, 4, &parent.to_bytes());
    }
    let (method, route) = s.name();
    match route {
        Some(r) => {
            tag(out, 5, LEN);
            varint(out, (method.len() + 1 + r.len()) as u64);
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(r.as_bytes());
        }
        None => string(out, 5, method),
    }
    uint(out, 6, KIND_SERVER);
    fixed64(out, 7, s.start_unix_ns);
    fixed64(out, 8, end.end_unix_ns);
    match &s.encoded {
        Some(attributes) => out.extend_from_slice(attributes),
        None => request_attributes(out, s),
    }
    if let Some(ns) = end.pool_wait_ns {
        kv_int(out, 9, ATTR_POOL_WAIT_NS, ns);
    }
    kv_int(out, 9, "http.response.status_code", i64::from(end.status));
    let error = end.status >= 500;
    if error {
        let mut digits = [0u8; 5];
        kv_str(out, 9, "error.type", decimal(end.status, &mut digits));
    }
    for e in end.events {
        let ev = open(out, 11);
        fixed64(out, 1, e.start_unix_ns);
        string(out, 2, e.kind.event_name());
        for kv in event_attributes(e) {
            key_value(out, 3, kv.key.as_str(), &kv.value);
        }
        close(out, ev);
    }
    let st = open(out, 15);
    if error {
        uint(out, 3, STATUS_ERROR);
    }
    close(out, st);
    let remote = if s.parent.is_some() { IS_REMOTE } else { 0 };
    fixed32(
        out,
        16,
        u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | remote,
    );
    close(out, at);
}

/// The attributes a server span has from its start (`Span.attributes` fields): the
/// method, the route, `url.path`, `url.scheme` and the server's address and port. The
/// same for every request to one route on one address, so encoded once for them.
pub fn request_attributes(out: &mut Vec<u8>, s: &ServerSpan) {
    kv_str(out, 9, "http.request.method", s.method_attribute());
    if let Some(r) = s.route {
        kv_str(out, 9, "http.route", r);
    }
    kv_str(
        out,
        9,
        "url.path",
        s.path.as_deref().or(s.route).unwrap_or(""),
    );
    kv_str(out, 9, "url.scheme", "http");
    if let Some((address, port)) = &s.server {
        kv_str(out, 9, "server.address", address);
        kv_int(out, 9, "server.port", i64::from(*port));
    }
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

fn trace_state(out: &mut Vec<u8>, field: u32, ts: &TraceState) {
    if *ts != TraceState::default() {
        string(out, field, &ts.header());
    }
}

/// A `KeyValue` with a string value.
fn kv_str(out: &mut Vec<u8>, field: u32, key: &str, value: &str) {
    let n = value.len() as u64;
    kv_scalar(out, field, key, 1 + varint_len(n) + n, |out| {
        any_str(out, value)
    });
}

/// A `KeyValue` with an integer value.
fn kv_int(out: &mut Vec<u8>, field: u32, key: &str, value: i64) {
    kv_scalar(out, field, key, 1 + varint_len(value as u64), |out| {
        any_i64(out, value)
    });
}

/// A `KeyValue` whose `AnyValue` body is `value_len` bytes, written by `value`.
fn kv_scalar(
    out: &mut Vec<u8>,
    field: u32,
    key: &str,
    value_len: u64,
    value: impl FnOnce(&mut Vec<u8>),
) {
    let key_len = if key.is_empty() {
        0
    } else {
        1 + varint_len(key.len() as u64) + key.len() as u64
    };
    tag(out, field, LEN);
    varint(out, key_len + 1 + varint_len(value_len) + value_len);
    string(out, 1, key);
    tag(out, 2, LEN);
    varint(out, value_len);
    value(out);
}

fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    // A scalar's length is known before it is written: no length to patch afterwards.
    let Some(value_len) = scalar_len(value) else {
        let at = open(out, field);
        string(out, 1, key);
        let v = open(out, 2);
        any_value(out, value);
        close(out, v);
        close(out, at);
        return;
    };
    kv_scalar(out, field, key, value_len, |out| any_value(out, value));
}

/// The encoded length of a scalar `AnyValue`; `None` for an array.
fn scalar_len(value: &Value) -> Option<u64> {
    match value {
        Value::Bool(_) => Some(2),
        Value::I64(i) => Some(1 + varint_len(*i as u64)),
        Value::F64(_) => Some(9),
        Value::String(s) => {
            let n = s.as_str().len() as u64;
            Some(1 + varint_len(n) + n)
        }
        _ => None,
    }
}

fn varint_len(v: u64) -> u64 {
    u64::from((64 - (v | 1).leading_zeros()).div_ceil(7))
}

/// The body of an `AnyValue` (a oneof: written even when it holds a default).
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => any_bool(out, *b),
        Value::I64(i) => any_i64(out, *i),
        Value::F64(f) => any_f64(out, *f),
        Value::String(s) => any_str(out, s.as_str()),
        Value::Array(a) => {
            let at = open(out, 5);
            match a {
                Array::Bool(v) => v.iter().for_each(|x| array_item(out, |o| any_bool(o, *x))),
                Array::I64(v) => v.iter().for_each(|x| array_item(out, |o| any_i64(o, *x))),
                Array::F64(v) => v.iter().for_each(|x| array_item(out, |o| any_f64(o, *x))),
                Array::String(v) => v
                    .iter()
                    .for_each(|x| array_item(out, |o| any_str(o, x.as_str()))),
                // A kind of array this version does not know: sent empty.
                _ => {}
            }
            close(out, at);
        }
        // A kind of value this version does not know: an empty `AnyValue`.
        _ => {}
    }
}

fn any_bool(out: &mut Vec<u8>, b: bool) {
    tag(out, 2, VARINT);
    varint(out, u64::from(b));
}

fn any_i64(out: &mut Vec<u8>, i: i64) {
    tag(out, 3, VARINT);
    varint(out, i as u64);
}

fn any_f64(out: &mut Vec<u8>, f: f64) {
    tag(out, 4, FIXED64);
    out.extend_from_slice(&f.to_bits().to_le_bytes());
}

fn any_str(out: &mut Vec<u8>, s: &str) {
    tag(out, 1, LEN);
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// One `ArrayValue.values` item.
fn array_item(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = open(out, 1);
    body(out);
    close(out, at);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A scalar field, left out at its default (proto3).
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, VARINT);
        varint(out, v);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(out, field, FIXED32);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        tag(out, field, LEN);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes(out, field, s.as_bytes());
}

/// Start a length-delimited field whose length is not known yet: its tag and a one-byte
/// length, patched by [`close`]. Returns where the body starts.
fn open(out: &mut Vec<u8>, field: u32) -> usize {
    tag(out, field, LEN);
    out.push(0);
    out.len()
}

/// Write the length of the field [`open`] started at `body`, moving the body up when the
/// length needs more than one byte.
fn close(out: &mut Vec<u8>, body: usize) {
    let len = out.len() - body;
    if len < 0x80 {
        out[body - 1] = len as u8;
        return;
    }
    let (mut prefix, mut n, mut v) = ([0u8; 10], 0, len);
    while v >= 0x80 {
        prefix[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    let extra = n;
    out.resize(out.len() + extra, 0);
    out.copy_within(body..body + len, body + extra);
    out[body - 1..body + extra].copy_from_slice(&prefix[..=n]);
}

/// `ExportTraceServiceResponse.partial_success.rejected_spans`: 0 when absent (a full
/// success) or when the answer cannot be read.
pub fn rejected_spans(response: &[u8]) -> u64 {
    fields(response)
        .find(|(field, _)| *field == 1)
        .and_then(|(_, v)| match v {
            Field::Len(partial) => fields(partial).find_map(|(f, v)| match (f, v) {
                (1, Field::Varint(n)) => Some(n.max(0)),
                _ => None,
            }),
            Field::Varint(_) => None,
        })
        .map_or(0, |n| n as u64)
}

/// A read field's value: a varint (as `i64`) or a length-delimited body. Fixed-width
/// fields are skipped by [`fields`].
enum Field<'a> {
    Varint(i64),
    Len(&'a [u8]),
}

/// The fields of one protobuf message, until its end or the first malformed byte.
fn fields(mut b: &[u8]) -> impl Iterator<Item = (u64, Field<'_>)> {
    std::iter::from_fn(move || {
        loop {
            let key = read_varint(&mut b)?;
            let value = match key & 7 {
                0 => Some(Field::Varint(read_varint(&mut b)? as i64)),
                1 => {
                    b = b.get(8..)?;
                    None
                }
                2 => {
                    let len = usize::try_from(read_varint(&mut b)?).ok()?;
                    let body = b.get(..len)?;
                    b = &b[len..];
                    Some(Field::Len(body))
                }
                5 => {
                    b = b.get(4..)?;
                    None
                }
                _ => return None,
            };
            if let Some(v) = value {
                return Some((key >> 3, v));
            }
        }
    })
}

fn read_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::durations::METHODS;
    use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message;
    use satlab_record::{EventKind, ServerEvent};
    use std::borrow::Cow;
    use std::str::FromStr;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    const SCOPE: &str = "target-api";

    /// The `SpanData` the SDK's tracer made for the same request (before this encoder):
    /// the builder's attributes, then the pool wait, the status code and the error type
    /// as the request set them, the overlapped events, an error status for a 5xx.
    fn sdk_span(s: &ServerSpan, end: &SpanEnd<'_>) -> SpanData {
        let at = |ns: u64| UNIX_EPOCH + Duration::from_nanos(ns);
        let (method, route) = s.name();
        let mut attributes = vec![KeyValue::new("http.request.method", s.method_attribute())];
        if let Some(r) = s.route {
            attributes.push(KeyValue::new("http.route", r));
        }
        let path = s.path.as_deref().or(s.route).unwrap_or("").to_string();
        attributes.push(KeyValue::new("url.path", path));
        attributes.push(KeyValue::new("url.scheme", "http"));
        if let Some((address, port)) = &s.server {
            attributes.push(KeyValue::new("server.address", address.to_string()));
            attributes.push(KeyValue::new("server.port", i64::from(*port)));
        }
        if let Some(ns) = end.pool_wait_ns {
            attributes.push(KeyValue::new(ATTR_POOL_WAIT_NS, ns));
        }
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(end.status),
        ));
        if end.status >= 500 {
            attributes.push(KeyValue::new("error.type", end.status.to_string()));
        }
        let mut events = SpanEvents::default();
        events.events = end
            .events
            .iter()
            .map(|e| {
                Event::new(
                    e.kind.event_name(),
                    at(e.start_unix_ns),
                    event_attributes(e),
                    0,
                )
            })
            .collect();
        SpanData {
            span_context: s.context.clone(),
            parent_span_id: s.parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: s.parent.is_some(),
            span_kind: SpanKind::Server,
            name: Cow::Owned(match route {
                Some(r) => format!("{method} {r}"),
                None => method.to_string(),
            }),
            start_time: at(s.start_unix_ns),
            end_time: at(end.end_unix_ns),
            attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: if end.status >= 500 {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: InstrumentationScope::builder(SCOPE).build(),
        }
    }

    /// What prost writes for the SDK exporter's conversion of the same spans.
    fn reference(spans: &[(ServerSpan, SpanEnd<'_>)], resource: &Resource) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans.iter().map(|(s, e)| sdk_span(s, e)).collect(),
                &ResourceAttributesWithSchema::from(resource),
            ),
        }
        .encode_to_vec()
    }

    fn ours(spans: &[(ServerSpan, SpanEnd<'_>)], resource: &Resource) -> Vec<u8> {
        let mut encoded = Vec::new();
        for (s, e) in spans {
            span(&mut encoded, s, e);
        }
        SpanEncoder::new(resource, SCOPE).request(&encoded)
    }

    fn server_span(i: u64) -> ServerSpan {
        ServerSpan {
            context: SpanContext::new(
                TraceId::from(0x0af7651916cd43dd8448eb211c80319c + u128::from(i)),
                SpanId::from(0xb7ad6b71 + i),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent: Some(SpanId::from(0x00f067aa0ba902b7)),
            method: 1,
            route: Some("/api/vector/add"),
            path: None,
            server: Some((Arc::from("127.0.0.1"), 8080)),
            start_unix_ns: 1_764_000_000_123_456_789 + i,
            encoded: None,
        }
    }

    /// `s` with its start attributes encoded beforehand, as the request path caches them.
    fn pre_encoded(mut s: ServerSpan) -> ServerSpan {
        let mut attributes = Vec::new();
        request_attributes(&mut attributes, &s);
        s.encoded = Some(attributes.into());
        s
    }

    fn ended(status: u16, events: &[ServerEvent]) -> SpanEnd<'_> {
        SpanEnd {
            end_unix_ns: 1_764_000_000_123_543_210,
            status,
            pool_wait_ns: None,
            events,
        }
    }

    fn event(kind: EventKind, seq: u64, request_index: Option<u64>) -> ServerEvent {
        ServerEvent {
            kind,
            seq,
            start_unix_ns: 1_764_000_000_000_000_000 + seq,
            duration_ns: 12_000_000,
            request_index,
            service: "target-api".into(),
            attributes: Default::default(),
        }
    }

    fn lab_resource() -> Resource {
        Resource::builder_empty()
            .with_service_name("target-api")
            .with_attribute(KeyValue::new("deployment.environment.name", "lab"))
            .build()
    }

    #[test]
    fn a_batch_of_server_spans_is_what_prost_writes() {
        let spans: Vec<_> = (0..600)
            .map(|i| (pre_encoded(server_span(i)), ended(200, &[])))
            .collect();
        let resource = lab_resource(); // one value: a resource's attributes are unordered
        assert_eq!(ours(&spans, &resource), reference(&spans, &resource));
    }

    #[test]
    fn every_field_a_server_span_sets_is_what_prost_writes() {
        let resource = Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "svc")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build();
        let events = [
            event(EventKind::GcPause, 3, Some(3000)),
            event(EventKind::CpuBurst, 1, None),
        ];
        let mut root = server_span(1);
        root.parent = None;
        root.context = SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_str("vendor=v1,other=o2").unwrap(),
        );
        root.method = 7; // _OTHER: named HTTP
        root.route = None;
        root.path = Some("/x".repeat(10_000).into()); // a length of three varint bytes
        root.server = None;
        let mut pooled = ended(503, &events);
        pooled.pool_wait_ns = Some(1_500_000);
        let mut zero_wait = ended(200, &[]);
        zero_wait.pool_wait_ns = Some(0);
        let mut get = server_span(2);
        get.method = 0;
        get.path = Some("/api/vector/add/".into());
        let spans = vec![
            (server_span(0), ended(200, &events)),
            (root, pooled),
            (get, ended(404, &[])),
            (server_span(3), zero_wait),
            (server_span(4), ended(500, &[])),
            (pre_encoded(server_span(5)), ended(503, &events)),
        ];
        assert_eq!(ours(&spans, &resource), reference(&spans, &resource));
        // No span at all: an empty ScopeSpans.
        let request = ours(&[], &resource);
        let decoded = ExportTraceServiceRequest::decode(request.as_slice()).unwrap();
        assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 0);
        assert_eq!(
            decoded.resource_spans[0].scope_spans[0]
                .scope
                .as_ref()
                .unwrap()
                .name,
            SCOPE
        );
    }

    fn any_span() -> impl Strategy<Value = (ServerSpan, u64, u16, Option<i64>, usize)> {
        (
            (any::<u128>(), any::<u64>(), any::<bool>(), any::<bool>()),
            (0..METHODS.len(), prop::option::of(Just("/api/vector/add"))),
            prop::option::of(".{0,300}"),
            prop::option::of(("[0-9a-f:.]{1,39}", any::<u16>())),
            (
                any::<u64>(),
                any::<u64>(),
                100u16..600,
                prop::option::of(0..i64::MAX),
            ),
            (0usize..3, any::<bool>()),
        )
            .prop_map(
                |((trace, id, parent, state), (method, route), path, server, times, (n, pre))| {
                    let (start, end, status, wait) = times;
                    let span = ServerSpan {
                        context: SpanContext::new(
                            TraceId::from(trace | 1),
                            SpanId::from(id | 1),
                            TraceFlags::SAMPLED,
                            false,
                            if state {
                                TraceState::from_str("k=v").unwrap()
                            } else {
                                TraceState::default()
                            },
                        ),
                        parent: parent.then(|| SpanId::from(id.rotate_left(7) | 1)),
                        method,
                        route,
                        path: path.map(Into::into),
                        server: server.map(|(a, p)| (Arc::from(a.as_str()), p)),
                        start_unix_ns: start,
                        encoded: None,
                    };
                    let span = if pre { pre_encoded(span) } else { span };
                    (span, end, status, wait, n)
                },
            )
    }

    proptest! {
        #[test]
        fn any_server_span_encodes_as_prost_does(
            spans in prop::collection::vec(any_span(), 1..12),
        ) {
            let events = [
                event(EventKind::PoolRecycle, 9, Some(90)),
                event(EventKind::GcPause, 1, None),
            ];
            let spans: Vec<_> = spans
                .into_iter()
                .map(|(s, end, status, wait, n)| {
                    (s, SpanEnd { end_unix_ns: end, status, pool_wait_ns: wait, events: &events[..n] })
                })
                .collect();
            let resource = lab_resource();
            prop_assert_eq!(ours(&spans, &resource), reference(&spans, &resource));
        }
    }

    #[test]
    fn a_partial_success_says_how_many_spans_were_rejected() {
        use opentelemetry_proto::tonic::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        let answer = |rejected, message: &str| {
            ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message.into(),
                }),
            }
            .encode_to_vec()
        };
        assert_eq!(rejected_spans(&answer(17, "quota")), 17);
        assert_eq!(rejected_spans(&answer(300, "")), 300);
        assert_eq!(rejected_spans(&answer(0, "a warning only")), 0);
        assert_eq!(
            rejected_spans(&ExportTraceServiceResponse::default().encode_to_vec()),
            0
        );
        assert_eq!(rejected_spans(&[]), 0);
        // Malformed answers read as no rejection, never a panic.
        let whole = answer(1 << 40, "x".repeat(200).as_str());
        for cut in 0..whole.len() {
            let _ = rejected_spans(&whole[..cut]);
        }
        assert_eq!(rejected_spans(&[0xff; 12]), 0);
    }
}
