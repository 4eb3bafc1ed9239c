//! Log ingestion: every event name is listed per service; records that follow the event
//! convention (`docs/events.md`: a name and `satlab.event.duration_ns`) become
//! [`ServerEvent`]s (start, duration, scope, sequence, request index and the other
//! attributes), within the store's bound. target-api's `satlab.*` events must carry it.

use super::attributes::{attr, attr_map, attr_u64, service_name};
use super::ingest::{self, Ingest};
use super::signal::Signal;
use super::store::{Store, note, push_bounded};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use satlab_record::event_names::EventNameError;
use satlab_record::telemetry as tel;
use satlab_record::{EventKind, EventScope, ServerEvent};

impl Store {
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
                    let a = &rec.attributes;
                    let Some(name) = name else {
                        out.accepted += 1;
                        continue;
                    };
                    let builtin = EventKind::parse(&name).is_some();
                    let Some(duration_ns) = attr_u64(a, tel::ATTR_EVENT_DURATION_NS) else {
                        if builtin {
                            out.reject("satlab event without satlab.event.duration_ns");
                        } else {
                            // A log event outside the convention: listed, not an event.
                            out.accepted += 1;
                        }
                        continue;
                    };
                    let scope = match attr(a, tel::ATTR_EVENT_SCOPE) {
                        None => EventScope::Part,
                        Some(s) => match EventScope::parse(&s) {
                            Some(scope) => scope,
                            None => {
                                out.reject("satlab.event.scope is not process or part");
                                continue;
                            }
                        },
                    };
                    let kind = match EventKind::named(&name, scope) {
                        Ok(k) => k,
                        Err(EventNameError::Invalid(_)) => {
                            out.reject("event name is not 1–64 characters of A–Z a–z 0–9 . _ -");
                            continue;
                        }
                        Err(EventNameError::Full(_)) => {
                            out.reject("too many distinct event names");
                            continue;
                        }
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
                                tel::ATTR_EVENT_SCOPE,
                                "event.name",
                            ],
                        ),
                    };
                    if push_bounded(&mut g.events, ev, lim.max_events, lim.overflow) {
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
        ingest::count(&mut g, Signal::Logs, &out, reason);
        out
    }
}

/// Log export requests for the tests of this directory.
#[cfg(test)]
pub(super) mod fixtures {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

    /// One attribute.
    pub fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    /// One export request holding `records`.
    pub fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
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

    /// A 5 ns GC pause with sequence number `seq`, stamped 77.
    pub fn pause(seq: i64) -> LogRecord {
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
}

#[cfg(test)]
mod tests {
    use super::fixtures::{logs, pause};
    use super::*;
    use crate::otlp::store::{Overflow, StoreLimits};
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::logs::v1::LogRecord;

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
    fn any_service_s_event_by_the_convention_is_kept_under_its_own_name() {
        let s = Store::new(StoreLimits::default());
        let named = |name: &str, scope: Option<&str>| {
            let mut rec = pause(3);
            rec.attributes.retain(|a| a.key != "event.name");
            rec.event_name = name.into();
            if let Some(scope) = scope {
                rec.attributes.push(super::fixtures::kv(
                    "satlab.event.scope",
                    any_value::Value::StringValue(scope.into()),
                ));
            }
            rec
        };
        let mut plain_log = named("app.started", None);
        plain_log
            .attributes
            .retain(|a| a.key != "satlab.event.duration_ns");
        let r = s.ingest_logs(&logs(vec![
            named("python.gc", Some("process")),
            named("vacuum", None),
            plain_log,
            named("python.gc", Some("world")),
            named("bad name", None),
        ]));
        assert_eq!((r.accepted, r.rejected), (3, 2), "{}", r.message);
        assert!(
            r.message.contains("process or part") && r.message.contains("0–9"),
            "{}",
            r.message
        );
        let ev = s.events();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].kind.name(), "python.gc");
        assert!(ev[0].kind.stops_the_process());
        assert_eq!(ev[0].seq, 3);
        assert!(!ev[0].attributes.contains_key("satlab.event.scope"));
        assert_eq!(ev[1].kind.name(), "vacuum");
        assert!(!ev[1].kind.stops_the_process());
        assert_eq!(s.stats().events["python.gc"], 1);
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
}
