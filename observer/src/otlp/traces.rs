//! Trace ingestion: spans are counted per service and name, errors counted, a bounded
//! set of trace ids kept, each span's timing offered to the span-timing store
//! ([`super::timings`], which keeps a trace-id sample of them), and every server and
//! client span's duration recorded with its ids ([`crate::exemplars`]).

use super::attributes::service_name;
use super::ingest::{self, Ingest};
use super::signal::Signal;
use super::span_timing::timing_of;
use super::store::{OTHER, Store, note};
use crate::exemplars::Side;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use satlab_record::spans::SpanKind;

impl Store {
    /// Take the spans of a trace export.
    pub fn ingest_traces(&self, req: &ExportTraceServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        let mut g = self.lock();
        let lim = self.limits;
        for rs in &req.resource_spans {
            let service = g.service_key(service_name(rs.resource.as_ref()), &lim);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let Some(timing) = timing_of(span) else {
                        out.reject("span with a trace id not 16 bytes or a span id not 8 bytes");
                        continue;
                    };
                    out.accepted += 1;
                    g.timings.offer(&timing, &service);
                    let side = match timing.kind {
                        SpanKind::Server => Some(Side::Server),
                        SpanKind::Client => Some(Side::Client),
                        _ => None,
                    };
                    if let Some(side) = side {
                        g.latency.record(
                            side,
                            &service,
                            timing.trace_id,
                            timing.span_id,
                            timing.start_unix_ns,
                            timing.end_unix_ns,
                        );
                    }
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
        ingest::count(&mut g, Signal::Traces, &out, "invalid");
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
