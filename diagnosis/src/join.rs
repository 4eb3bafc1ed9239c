//! Client ↔ server spans: the load generator's client span of a request (kind client, with
//! its load step) joins the SERVER span whose parent is that client span, in the same
//! trace. Every other span is counted, never joined and never dropped silently.

use crate::time_model::SpanCounts;
use satlab_record::{SpanKind, SpanTiming};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// A request's client span and, when joined, its server span.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// The client span.
    pub client: &'a SpanTiming,
    /// The server span whose parent it is.
    pub server: Option<&'a SpanTiming>,
}

/// The spans of a run, sorted by how they joined.
#[derive(Debug, Clone, Default)]
pub struct Join<'a> {
    /// Every request's client span, joined or not, in input order.
    pub pairs: Vec<Pair<'a>>,
    /// Server spans with a parent that is no client span present (its client span was
    /// dropped, or another client sent the request).
    pub server_without_client: Vec<&'a SpanTiming>,
    /// Spans that are neither: other kinds, root server spans, client spans without a
    /// step, duplicates.
    pub other: Vec<&'a SpanTiming>,
    /// Server spans that handled a traced request (those with a parent, joined or not):
    /// the ones Little's law inside the handler sums.
    pub handler_spans: Vec<&'a SpanTiming>,
}

/// True for the load generator's span of one request.
pub fn is_request_client(s: &SpanTiming) -> bool {
    s.kind == SpanKind::Client && s.step.is_some()
}

/// Join the spans.
pub fn join(spans: &[SpanTiming]) -> Join<'_> {
    let mut out = Join::default();
    let mut by_id: HashMap<(u128, u64), usize> = HashMap::new();
    for s in spans {
        if is_request_client(s) {
            match by_id.entry((s.trace_id, s.span_id)) {
                Entry::Occupied(_) => out.other.push(s),
                Entry::Vacant(v) => {
                    v.insert(out.pairs.len());
                    out.pairs.push(Pair {
                        client: s,
                        server: None,
                    });
                }
            }
        }
    }
    for s in spans {
        match (s.kind, s.parent_span_id) {
            (SpanKind::Server, Some(parent)) => {
                out.handler_spans.push(s);
                match by_id.get(&(s.trace_id, parent)) {
                    Some(&i) if out.pairs[i].server.is_none() => out.pairs[i].server = Some(s),
                    Some(_) => out.other.push(s),
                    None => out.server_without_client.push(s),
                }
            }
            _ if is_request_client(s) => {}
            _ => out.other.push(s),
        }
    }
    out
}

impl Join<'_> {
    /// The counts of every span.
    pub fn counts(&self) -> SpanCounts {
        let joined = self.pairs.iter().filter(|p| p.server.is_some()).count() as u64;
        SpanCounts {
            client: self.pairs.len() as u64,
            joined,
            client_without_server: self.pairs.len() as u64 - joined,
            server_without_client: self.server_without_client.len() as u64,
            other: self.other.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u128, id: u64, parent: Option<u64>, kind: SpanKind) -> SpanTiming {
        SpanTiming {
            trace_id: trace,
            span_id: id,
            parent_span_id: parent,
            kind,
            service: "x".into(),
            start_unix_ns: 0,
            end_unix_ns: 1,
            error: false,
            status: None,
            step: (kind == SpanKind::Client).then_some(0),
            intended_unix_ns: None,
            pool_wait_ns: None,
        }
    }

    #[test]
    fn every_span_is_joined_or_counted() {
        let mut no_step = span(9, 90, None, SpanKind::Client);
        no_step.step = None;
        let spans = vec![
            span(1, 10, None, SpanKind::Client),
            span(1, 11, Some(10), SpanKind::Server),
            // A second server span under the same client span.
            span(1, 12, Some(10), SpanKind::Server),
            // Client without server.
            span(2, 20, None, SpanKind::Client),
            // Server whose client span is absent.
            span(3, 31, Some(30), SpanKind::Server),
            // Same span id as a client span but another trace: not joined.
            span(4, 41, Some(20), SpanKind::Server),
            // Root server span (a health check) and an internal span.
            span(5, 50, None, SpanKind::Server),
            span(1, 13, Some(11), SpanKind::Internal),
            no_step,
            // A duplicate client span.
            span(2, 20, None, SpanKind::Client),
        ];
        let j = join(&spans);
        let c = j.counts();
        assert_eq!(
            c,
            SpanCounts {
                client: 2,
                joined: 1,
                client_without_server: 1,
                server_without_client: 2,
                other: 5,
            }
        );
        assert_eq!(
            c.joined + c.client_without_server + c.server_without_client + c.other + c.joined,
            spans.len() as u64,
            "a joined request holds two spans; every other span is counted once"
        );
        assert_eq!(j.pairs[0].server.map(|s| s.span_id), Some(11));
        assert_eq!(j.handler_spans.len(), 4);
    }
}
