//! Where the time went: the run's spans joined per request ([`crate::join`]), each joined
//! request split into parts ([`crate::parts`]), the parts per step and run-wide
//! ([`crate::breakdown`]), and the requests inside the handler per step
//! ([`crate::inside`]), which also fills [`StepRow::handler_concurrency`] and
//! [`StepRow::pool_wait_mean_ms`].
//!
//! A request belongs to a step by its client span's step and its send time (intended send
//! in open loop) inside the step's measured window, as the load generator places it.

use crate::breakdown::{Beside, decompose};
use crate::input::DiagnosisInput;
use crate::inside::{WindowInput, inside_handler};
use crate::intervals::Intervals;
use crate::join::{Join, join};
use crate::model::StepRow;
use crate::parts::{RequestParts, Stalls, split};
use crate::time_model::{SpanCounts, SpanSampling, StepTime, WhereTimeWent};
use satlab_record::summary::LoadMode;
use satlab_record::{ServerEvent, SpanTiming};
use std::collections::BTreeMap;

/// What the split assumes when the client and server ran on one machine.
pub const ONE_CLOCK: &str = "one machine, one clock: client and server spans are timed by \
                             the same clock";
/// What it assumes otherwise.
pub const SYNCED_CLOCKS: &str = "client and server may have run on different hosts: the split \
                                 assumes their clocks are synchronised (containers on one \
                                 host share its clock)";

/// The latency's origin of a client span: the intended send, else the actual one.
fn origin(s: &SpanTiming) -> u64 {
    s.intended_unix_ns.unwrap_or(s.start_unix_ns)
}

fn sampling(input: &DiagnosisInput) -> SpanSampling {
    let s = &input.summary;
    let timings = input
        .span_summary
        .as_ref()
        .map(|x| &x.timings)
        .filter(|t| t.cap > 0 || t.received > 0);
    let store_ratio = timings.map(|t| t.ratio);
    let eff = s.trace_sample_ratio * store_ratio.unwrap_or(1.0);
    SpanSampling {
        client_ratio: s.trace_sample_ratio,
        store_ratio,
        effective_ratio: (eff.is_finite() && eff > 0.0).then_some(eff),
        client_queue_dropped: s.spans_dropped,
        store_dropped: timings.map(|t| t.dropped_by_ratio).unwrap_or(0),
    }
}

fn clock(input: &DiagnosisInput) -> &'static str {
    let local = input.manifest.as_ref().is_some_and(|m| {
        m.created_by == "observer lab" || (m.client_pid.is_some() && m.server_pid.is_some())
    });
    if local { ONE_CLOCK } else { SYNCED_CLOCKS }
}

/// Why nothing could be decomposed.
fn reason(input: &DiagnosisInput, j: &Join, counts: &SpanCounts) -> String {
    if input.spans.is_empty() {
        return if input.summary.trace_sample_ratio <= 0.0 {
            "no spans: the load generator traced no request (trace sample ratio 0)".into()
        } else {
            "no spans: otlp/spans.jsonl is missing or empty (the observer kept no span \
             timings)"
                .into()
        };
    }
    if counts.client == 0 {
        return format!(
            "no client span of the load generator among {} spans: no request to join",
            input.spans.len()
        );
    }
    if counts.joined == 0 && j.handler_spans.is_empty() {
        return format!(
            "{} client spans and no server span: the server sent no traces (is it \
             instrumented with OpenTelemetry, exporting to the lab?), so the verdict rests on \
             CPU, kernel counters and status codes",
            counts.client
        );
    }
    if counts.joined == 0 {
        return format!(
            "{} client spans and {} server spans, none joined: no server span's parent is a \
             client span",
            counts.client,
            j.handler_spans.len()
        );
    }
    format!(
        "{} requests joined, none sent inside a step's measured window",
        counts.joined
    )
}

/// Joined requests a step needs before its share of time before the handler is used by the
/// verdict: with fewer, one slow connect can hold the share.
pub const MIN_JOINED_FOR_SHARE: u64 = 30;

/// Compute the section and fill the rows' handler concurrency, pool wait and share of time
/// before the handler.
pub fn analyse(input: &DiagnosisInput, rows: &mut [StepRow]) -> WhereTimeWent {
    let s = &input.summary;
    let sampling = sampling(input);
    let j = join(&input.spans);
    let counts = j.counts();
    let interval = |e: &ServerEvent| {
        (
            e.start_unix_ns,
            e.start_unix_ns.saturating_add(e.duration_ns),
        )
    };
    let stalls = Stalls {
        process: Intervals::union(
            input
                .events
                .iter()
                .filter(|e| e.kind.stops_the_process())
                .map(interval),
        ),
        all: Intervals::union(input.events.iter().map(interval)),
    };
    // Measured windows by step index, Unix ns.
    let windows: BTreeMap<u32, (u64, u64)> = s
        .steps
        .iter()
        .map(|st| {
            let at = |us: u64| s.started_unix_ns.saturating_add(us.saturating_mul(1000));
            (st.index, (at(st.measure_start_us), at(st.end_us)))
        })
        .collect();
    let in_step = |c: &SpanTiming| -> Option<u32> {
        let step = c.step?;
        let (a, b) = *windows.get(&step)?;
        (origin(c) >= a && origin(c) < b).then_some(step)
    };

    let mut by_step: BTreeMap<u32, (Vec<RequestParts>, Vec<u64>, SpanCounts)> = BTreeMap::new();
    let mut outside = 0u64;
    for p in &j.pairs {
        let Some(step) = in_step(p.client) else {
            outside += 1;
            continue;
        };
        let (reqs, pool_waits, c) = by_step.entry(step).or_default();
        c.client += 1;
        match p.server {
            Some(server) => {
                c.joined += 1;
                reqs.push(split(p.client, server, &stalls));
                pool_waits.extend(server.pool_wait_ns);
            }
            None => c.client_without_server += 1,
        }
    }

    let mut steps = Vec::new();
    let mut all: Vec<RequestParts> = Vec::new();
    let (mut run_clients, mut run_requests) = (0u64, 0u64);
    for row in rows.iter_mut() {
        let (from, to) = windows.get(&row.index).copied().unwrap_or((0, 0));
        let (reqs, pool_waits, mut c) = by_step.remove(&row.index).unwrap_or_default();
        let starting_inside = |v: &[&SpanTiming]| {
            v.iter()
                .filter(|x| x.start_unix_ns >= from && x.start_unix_ns < to)
                .count() as u64
        };
        c.server_without_client = starting_inside(&j.server_without_client);
        c.other = starting_inside(&j.other);
        let decomposition = decompose(
            &reqs,
            &Beside {
                client_spans: c.client,
                requests: row.requests,
                effective_ratio: sampling.effective_ratio,
                recorded_p99_ms: Some(row.p99_ms),
            },
        );
        let inside = inside_handler(&WindowInput {
            from,
            to,
            handler_spans: &j.handler_spans,
            traced: !j.handler_spans.is_empty(),
            effective_ratio: sampling.effective_ratio,
            pool_waits_ns: &pool_waits,
            metrics: &input.metrics,
            n_eff: row.n_eff,
        });
        row.handler_concurrency = inside.handler_concurrency;
        row.pool_wait_mean_ms = inside.pool_wait_mean_ms;
        row.before_handler_share = decomposition
            .as_ref()
            .filter(|d| d.joined >= MIN_JOINED_FOR_SHARE)
            .map(|d| d.share.before_handler);
        run_clients += c.client;
        run_requests += row.requests;
        all.extend(reqs);
        steps.push(StepTime {
            index: row.index,
            spans: c,
            decomposition,
            inside,
        });
    }
    // Client spans of steps without a row (no request completed there).
    outside += by_step.values().map(|(_, _, c)| c.client).sum::<u64>();
    let recorded_p99_us = match &input.histograms {
        Some(h) if !h.overall.is_empty() => Some(h.overall.value_at_quantile(0.99)),
        _ => (s.overall.requests > 0).then_some(s.overall.latency.p99_us),
    };
    let run = decompose(
        &all,
        &Beside {
            client_spans: run_clients,
            requests: run_requests,
            effective_ratio: sampling.effective_ratio,
            recorded_p99_ms: recorded_p99_us.map(|us| us as f64 / 1000.0),
        },
    );
    let clamped_max_ns = all.iter().map(|r| r.clamped_ns).max().unwrap_or(0);
    let clamped = all.iter().filter(|r| r.clamped_ns > 0).count();

    let mut notes = Vec::new();
    if s.mode == LoadMode::Open {
        let no_intended = j
            .pairs
            .iter()
            .filter(|p| p.client.intended_unix_ns.is_none())
            .count();
        if no_intended > 0 {
            notes.push(format!(
                "{no_intended} open-loop client spans carry no intended send time: their \
                 lateness is unknown and their latency starts at the actual send"
            ));
        }
    }
    if sampling.client_queue_dropped > 0 {
        notes.push(format!(
            "the load generator dropped {} sampled client spans (export queue full): their \
             server spans count as server without client and the joined share is lower by \
             as much; handler concurrency is not affected (server spans follow the trace \
             ratio alone)",
            sampling.client_queue_dropped
        ));
    }
    if !input.spans.is_empty() && sampling.store_ratio.is_none() {
        notes.push(
            "otlp/spans.json gives no account of the span store: its ratio is taken as 1".into(),
        );
    }
    if !input.spans.is_empty() && sampling.effective_ratio.is_none() {
        notes.push(
            "the sampling ratio is unknown: the joined share cannot be set against the \
             requests, nor span time scaled to handler concurrency"
                .into(),
        );
    }
    if clamped > 0 {
        notes.push(format!(
            "{clamped} requests had a part clamped at 0 (by up to {:.3} ms): the client's and \
             the server's clocks disagree by that much",
            clamped_max_ns as f64 / 1e6
        ));
    }
    WhereTimeWent {
        available: run.is_some(),
        reason: run.is_none().then(|| reason(input, &j, &counts)),
        clock: clock(input).into(),
        sampling,
        spans: counts,
        outside_windows: outside,
        steps,
        run,
        clamped_max_ms: clamped_max_ns as f64 / 1e6,
        notes,
    }
}
