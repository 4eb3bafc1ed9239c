//! A bounded in-memory store of what the diagnosis needs from OTLP: server events (from
//! log records), selected metric points, span counts and trace ids, and the names each
//! service sent.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use satlab_record::events::{ReceivedSummary, SpanSummary};
use satlab_record::fsio;
use satlab_record::telemetry as tel;
use satlab_record::{EventKind, MetricPoint, RecordError, RunDir, ServerEvent};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::Signal;

/// Metric names whose points are kept (the others are only listed in `received.json`).
pub const SELECTED_METRICS: [&str; 8] = [
    tel::HTTP_SERVER_REQUEST_DURATION,
    tel::HTTP_SERVER_ACTIVE_REQUESTS,
    tel::HTTP_CLIENT_REQUEST_DURATION,
    tel::PROCESS_CPU_UTILIZATION,
    tel::POOL_WAIT_DURATION,
    tel::EVENT_DURATION,
    tel::SHED_REQUESTS,
    tel::TELEMETRY_DROPPED,
];

/// What to do when a bounded list is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse new items and report them as rejected (a lab run keeps its beginning).
    RejectNew,
    /// Drop the oldest items (a long-running consumer keeps the recent past).
    DropOldest,
}

/// Bounds on what the store holds.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Server events.
    pub max_events: usize,
    /// Metric points.
    pub max_points: usize,
    /// Distinct trace ids remembered.
    pub max_trace_ids: usize,
    /// Services tracked; later ones are counted under `other`.
    pub max_services: usize,
    /// Distinct names per service and kind (metrics, spans, log events).
    pub max_names: usize,
    /// What happens at the bound.
    pub overflow: Overflow,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_events: 100_000,
            max_points: 200_000,
            max_trace_ids: 2_000,
            max_services: 64,
            max_names: 512,
            overflow: Overflow::RejectNew,
        }
    }
}

/// The outcome of ingesting one export request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingest {
    /// Items (spans, data points, log records) taken.
    pub accepted: u64,
    /// Items refused; non-zero makes the response a partial success.
    pub rejected: u64,
    /// Why items were refused (empty when none were).
    pub message: String,
}

impl Ingest {
    fn reject(&mut self, why: &str) {
        self.rejected += 1;
        if self.message.is_empty() {
            self.message = why.to_string();
        } else if !self.message.contains(why) && self.message.len() < 512 {
            self.message.push_str("; ");
            self.message.push_str(why);
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Items accepted, by signal.
    pub received: BTreeMap<&'static str, u64>,
    /// Items or requests rejected, by (signal, reason).
    pub rejected: BTreeMap<(&'static str, String), u64>,
    /// Server events, by short name.
    pub events: BTreeMap<&'static str, u64>,
    /// Duration of the last event of each kind, s.
    pub last_event_duration_s: BTreeMap<&'static str, f64>,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<ServerEvent>,
    points: VecDeque<MetricPoint>,
    spans: SpanSummary,
    trace_ids: HashSet<Vec<u8>>,
    received: ReceivedSummary,
    stats: Stats,
}

/// The store, shared by the gRPC and HTTP receivers.
#[derive(Debug, Default)]
pub struct Store {
    limits: StoreLimits,
    inner: Mutex<Inner>,
}

const OTHER: &str = "other";

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| attr(&r.attributes, "service.name"))
        .unwrap_or_else(|| "unknown_service".to_string())
}

/// An attribute's value as a string (`None` when absent or not a scalar).
pub fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(value_string)
}

fn value_string(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn attr_u64(attrs: &[KeyValue], key: &str) -> Option<u64> {
    let kv = attrs.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::IntValue(i) => u64::try_from(*i).ok(),
        any_value::Value::DoubleValue(d) if *d >= 0.0 && d.is_finite() => Some(*d as u64),
        any_value::Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn attr_map(attrs: &[KeyValue], skip: &[&str]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|kv| !skip.contains(&kv.key.as_str()))
        .take(32)
        .filter_map(|kv| Some((kv.key.clone(), kv.value.as_ref().and_then(value_string)?)))
        .collect()
}

/// Insert into a name set unless it is full.
fn note(set: &mut std::collections::BTreeSet<String>, name: &str, max: usize) {
    if set.len() < max || set.contains(name) {
        set.insert(name.to_string());
    }
}

impl Inner {
    /// The service key to account under (bounded number of services).
    fn service_key(&self, name: String, limits: &StoreLimits) -> String {
        if self.received.services.contains_key(&name)
            || self.received.services.len() < limits.max_services
        {
            name
        } else {
            OTHER.to_string()
        }
    }

    fn push_bounded<T>(q: &mut VecDeque<T>, item: T, max: usize, overflow: Overflow) -> bool {
        if q.len() < max {
            q.push_back(item);
            return true;
        }
        match overflow {
            Overflow::RejectNew => false,
            Overflow::DropOldest => {
                q.pop_front();
                q.push_back(item);
                true
            }
        }
    }
}

impl Store {
    /// An empty store with these bounds.
    pub fn new(limits: StoreLimits) -> Self {
        Store {
            limits,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the store inconsistent beyond one
        // half-counted request; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a request refused before it reached the store (malformed, too large, ...).
    pub fn count_rejected_request(&self, signal: Signal, reason: &str) {
        let mut g = self.lock();
        *g.stats
            .rejected
            .entry((signal.name(), reason.to_string()))
            .or_default() += 1;
    }

    fn finish(&self, g: &mut Inner, signal: Signal, out: &Ingest, reason: &str) {
        *g.received
            .requests
            .entry(signal.name().to_string())
            .or_default() += 1;
        *g.stats.received.entry(signal.name()).or_default() += out.accepted;
        if out.rejected > 0 {
            *g.received
                .dropped
                .entry(signal.name().to_string())
                .or_default() += out.rejected;
            *g.stats
                .rejected
                .entry((signal.name(), reason.to_string()))
                .or_default() += out.rejected;
        }
    }

    /// Take the spans of a trace export.
    pub fn ingest_traces(&self, req: &ExportTraceServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        let mut g = self.lock();
        let lim = self.limits;
        for rs in &req.resource_spans {
            let service = g.service_key(service_name(rs.resource.as_ref()), &lim);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    if span.trace_id.len() != 16 || span.span_id.len() != 8 {
                        out.reject("span with a trace id not 16 bytes or a span id not 8 bytes");
                        continue;
                    }
                    out.accepted += 1;
                    let is_error = span.status.as_ref().is_some_and(|s| s.code == 2);
                    let names = g.received.services.entry(service.clone()).or_default();
                    note(&mut names.spans, &span.name, lim.max_names);
                    let known = names.spans.contains(&span.name);
                    let svc = g.spans.services.entry(service.clone()).or_default();
                    svc.spans += 1;
                    svc.errors += u64::from(is_error);
                    let key = if known {
                        span.name.clone()
                    } else {
                        OTHER.to_string()
                    };
                    *svc.by_name.entry(key).or_default() += 1;
                    if !g.trace_ids.contains(&span.trace_id) {
                        if g.trace_ids.len() < lim.max_trace_ids {
                            g.trace_ids.insert(span.trace_id.clone());
                            g.spans.trace_ids.push(hex(&span.trace_id));
                        } else {
                            g.spans.trace_ids_truncated = true;
                        }
                    }
                }
            }
        }
        self.finish(&mut g, Signal::Traces, &out, "invalid");
        out
    }

    /// Take the data points of a metrics export (selected names kept, all names listed).
    pub fn ingest_metrics(&self, req: &ExportMetricsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        let mut g = self.lock();
        let lim = self.limits;
        for rm in &req.resource_metrics {
            let service = g.service_key(service_name(rm.resource.as_ref()), &lim);
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let names = g.received.services.entry(service.clone()).or_default();
                    note(&mut names.metrics, &m.name, lim.max_names);
                    let keep = SELECTED_METRICS.contains(&m.name.as_str());
                    for p in metric_points(&service, m) {
                        if !keep {
                            out.accepted += 1;
                            continue;
                        }
                        if Inner::push_bounded(&mut g.points, p, lim.max_points, lim.overflow) {
                            out.accepted += 1;
                        } else {
                            out.reject("observer metric store full");
                        }
                    }
                }
            }
        }
        self.finish(&mut g, Signal::Metrics, &out, "store_full");
        out
    }

    /// Take the log records of a logs export: `satlab.*` events become server events.
    pub fn ingest_logs(&self, req: &ExportLogsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        let mut g = self.lock();
        let lim = self.limits;
        let mut reason = "invalid";
        for rl in &req.resource_logs {
            let service_raw = service_name(rl.resource.as_ref());
            let service = g.service_key(service_raw.clone(), &lim);
            for sl in &rl.scope_logs {
                for rec in &sl.log_records {
                    let name = if !rec.event_name.is_empty() {
                        Some(rec.event_name.clone())
                    } else {
                        attr(&rec.attributes, "event.name")
                            .or_else(|| attr(&rec.attributes, tel::ATTR_EVENT_NAME))
                    };
                    if let Some(n) = &name {
                        let names = g.received.services.entry(service.clone()).or_default();
                        note(&mut names.log_events, n, lim.max_names);
                    }
                    let Some(kind) = name.as_deref().and_then(EventKind::parse) else {
                        out.accepted += 1;
                        continue;
                    };
                    let a = &rec.attributes;
                    let Some(duration_ns) = attr_u64(a, tel::ATTR_EVENT_DURATION_NS) else {
                        out.reject("satlab event without satlab.event.duration_ns");
                        continue;
                    };
                    let start = attr_u64(a, tel::ATTR_EVENT_START)
                        .or((rec.time_unix_nano > 0).then_some(rec.time_unix_nano))
                        .unwrap_or(rec.observed_time_unix_nano);
                    let ev = ServerEvent {
                        kind,
                        seq: attr_u64(a, tel::ATTR_EVENT_SEQ).unwrap_or(0),
                        start_unix_ns: start,
                        duration_ns,
                        request_index: attr_u64(a, tel::ATTR_EVENT_REQUEST_INDEX),
                        service: service_raw.clone(),
                        attributes: attr_map(
                            a,
                            &[
                                tel::ATTR_EVENT_SEQ,
                                tel::ATTR_EVENT_START,
                                tel::ATTR_EVENT_DURATION_NS,
                                tel::ATTR_EVENT_REQUEST_INDEX,
                                tel::ATTR_EVENT_NAME,
                                "event.name",
                            ],
                        ),
                    };
                    if Inner::push_bounded(&mut g.events, ev, lim.max_events, lim.overflow) {
                        out.accepted += 1;
                        *g.stats.events.entry(kind.name()).or_default() += 1;
                        g.stats
                            .last_event_duration_s
                            .insert(kind.name(), duration_ns as f64 / 1e9);
                    } else {
                        reason = "store_full";
                        out.reject("observer event store full");
                    }
                }
            }
        }
        self.finish(&mut g, Signal::Logs, &out, reason);
        out
    }

    /// Server events received so far.
    pub fn events(&self) -> Vec<ServerEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// Selected metric points received so far.
    pub fn points(&self) -> Vec<MetricPoint> {
        self.lock().points.iter().cloned().collect()
    }

    /// Span counts and trace ids.
    pub fn spans(&self) -> SpanSummary {
        self.lock().spans.clone()
    }

    /// The names each service sent.
    pub fn received(&self) -> ReceivedSummary {
        self.lock().received.clone()
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Write `otlp/events.jsonl`, `otlp/metrics.jsonl`, `otlp/spans.json` and
    /// `otlp/received.json` into `dir`, atomically. With a window `(from, to)` (Unix ns),
    /// only events starting and points stamped inside it are written.
    pub fn write_to(&self, dir: &RunDir, window: Option<(u64, u64)>) -> Result<(), RecordError> {
        let inside = |t: u64| window.is_none_or(|(a, b)| t >= a && t <= b);
        let (events, points, spans, received) = {
            let g = self.lock();
            let events: Vec<ServerEvent> = g
                .events
                .iter()
                .filter(|e| inside(e.start_unix_ns))
                .cloned()
                .collect();
            let points: Vec<MetricPoint> = g
                .points
                .iter()
                .filter(|p| inside(p.t_unix_ns))
                .cloned()
                .collect();
            (events, points, g.spans.clone(), g.received.clone())
        };
        let mut events = events;
        events.sort_by_key(|e| (e.start_unix_ns, e.seq));
        fsio::write_jsonl(&dir.events(), &events)?;
        fsio::write_jsonl(&dir.metrics(), &points)?;
        fsio::write_json(&dir.spans(), &spans)?;
        fsio::write_json(&dir.received(), &received)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn temporality(t: i32) -> String {
    match t {
        1 => "delta".into(),
        2 => "cumulative".into(),
        _ => String::new(),
    }
}

/// Flatten one OTLP metric into points (exponential histograms and summaries keep count
/// and sum only).
fn metric_points(
    service: &str,
    m: &opentelemetry_proto::tonic::metrics::v1::Metric,
) -> Vec<MetricPoint> {
    let base = |kind: &str, temp: String, attrs: &[KeyValue], t: u64, start: u64| MetricPoint {
        t_unix_ns: t,
        start_unix_ns: start,
        service: service.to_string(),
        name: m.name.clone(),
        kind: kind.to_string(),
        temporality: temp,
        attributes: attr_map(attrs, &[]),
        value: None,
        count: None,
        sum: None,
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
    };
    let number = |v: &Option<number_data_point::Value>| match v {
        Some(number_data_point::Value::AsDouble(d)) => Some(*d),
        Some(number_data_point::Value::AsInt(i)) => Some(*i as f64),
        None => None,
    };
    match &m.data {
        Some(metric::Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| MetricPoint {
                value: number(&p.value),
                ..base(
                    "gauge",
                    String::new(),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| MetricPoint {
                value: number(&p.value),
                ..base(
                    "sum",
                    temporality(s.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: p.sum,
                bounds: p.explicit_bounds.clone(),
                bucket_counts: p.bucket_counts.clone(),
                ..base(
                    "histogram",
                    temporality(h.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: p.sum,
                ..base(
                    "exponential_histogram",
                    temporality(h.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: Some(p.sum),
                ..base(
                    "summary",
                    String::new(),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    };

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn pause(seq: i64) -> LogRecord {
        LogRecord {
            time_unix_nano: 77,
            attributes: vec![
                kv(
                    "event.name",
                    any_value::Value::StringValue("satlab.gc_pause".into()),
                ),
                kv("satlab.event.seq", any_value::Value::IntValue(seq)),
                kv(
                    "satlab.event.duration_ns",
                    any_value::Value::StringValue("5".into()),
                ),
                kv("thread", any_value::Value::StringValue("main".into())),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn event_name_attribute_string_values_and_time_fallback() {
        let s = Store::new(StoreLimits::default());
        let r = s.ingest_logs(&logs(vec![pause(1), LogRecord::default()]));
        assert_eq!((r.accepted, r.rejected), (2, 0));
        let e = &s.events()[0];
        assert_eq!(e.start_unix_ns, 77, "record time when no start attribute");
        assert_eq!(e.duration_ns, 5);
        assert_eq!(e.service, "unknown_service");
        assert_eq!(e.attributes.get("thread").map(String::as_str), Some("main"));
        assert!(!e.attributes.contains_key("satlab.event.seq"));
    }

    #[test]
    fn event_without_duration_is_rejected_with_a_reason() {
        let s = Store::new(StoreLimits::default());
        let mut rec = pause(1);
        rec.attributes
            .retain(|a| a.key != "satlab.event.duration_ns");
        let r = s.ingest_logs(&logs(vec![rec]));
        assert_eq!(r.rejected, 1);
        assert!(r.message.contains("duration_ns"), "{}", r.message);
        assert_eq!(s.stats().rejected[&("logs", "invalid".to_string())], 1);
    }

    #[test]
    fn drop_oldest_keeps_the_newest() {
        let s = Store::new(StoreLimits {
            max_events: 2,
            overflow: Overflow::DropOldest,
            ..StoreLimits::default()
        });
        let r = s.ingest_logs(&logs((1..=5).map(pause).collect()));
        assert_eq!(r.rejected, 0);
        let seqs: Vec<u64> = s.events().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 5]);
    }

    #[test]
    fn histograms_are_flattened_and_unselected_names_only_listed() {
        let hist = |name: &str| Metric {
            name: name.into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: 9,
                    count: 3,
                    sum: Some(0.5),
                    explicit_bounds: vec![0.1, 1.0],
                    bucket_counts: vec![1, 2, 0],
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        hist(tel::HTTP_SERVER_REQUEST_DURATION),
                        hist("other.metric"),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let s = Store::new(StoreLimits::default());
        assert_eq!(s.ingest_metrics(&req).accepted, 2);
        let p = s.points();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, "histogram");
        assert_eq!(p[0].temporality, "cumulative");
        assert_eq!(p[0].bucket_counts, vec![1, 2, 0]);
        let names = &s.received().services["unknown_service"].metrics;
        assert!(
            names.contains("other.metric") && names.contains(tel::HTTP_SERVER_REQUEST_DURATION)
        );
    }

    #[test]
    fn write_to_respects_the_window() {
        let s = Store::new(StoreLimits::default());
        let mut a = pause(1);
        a.time_unix_nano = 100;
        let mut b = pause(2);
        b.time_unix_nano = 900;
        s.ingest_logs(&logs(vec![b, a]));
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        s.write_to(&dir, None).unwrap();
        let all: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2],
            "sorted by start"
        );
        s.write_to(&dir, Some((0, 500))).unwrap();
        let some: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
        assert_eq!(some.len(), 1);
        assert!(dir.received().is_file() && dir.spans().is_file() && dir.metrics().is_file());
    }
}
