//! Where the time went, end to end through `diagnose` on synthetic runs with known spans:
//! the parts reproduce exactly, stalls come from server events, unjoined spans are counted,
//! handler concurrency scales by the sampling ratio, metrics stand in for spans, and clock
//! disagreements are clamped and counted.

use satlab_diagnosis::report::{html, text, time_chart};
use satlab_diagnosis::time_model::{InsideSource, Parts};
use satlab_diagnosis::{Diagnosis, DiagnosisInput, diagnose};
use satlab_record::{EventKind, ServerEvent, SpanKind, SpanTiming};
use satlab_testkit::synth::{STEP_S, SynthStep, T0_NS, steps_run};
use satlab_testkit::synth_spans::{
    SpanIds, SynthParts, active_requests, pool_wait_histogram, request_spans, spaced_requests,
    store_summary,
};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A run of `steps` steps of 10 s, 200 requests each (20 req/s, 5 ms mean), all traced
/// and every span kept.
fn run(steps: usize, open: bool) -> DiagnosisInput {
    let s: Vec<SynthStep> = (0..steps)
        .map(|i| SynthStep::new(10.0 * (i + 1) as f64, 20.0, 5.0))
        .collect();
    let mut input = steps_run(&s, open);
    input.summary.trace_sample_ratio = 1.0;
    input.span_summary = Some(store_summary(1.0, 0));
    input
}

/// Step `i`'s measured window, Unix ns.
fn window(i: u64) -> (u64, u64) {
    (T0_NS + i * STEP_S * S, T0_NS + (i + 1) * STEP_S * S)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ms_parts(late: f64, before: f64, pool: f64, stalled: f64, handler: f64, after: f64) -> Parts {
    Parts::from_values([late, before, pool, stalled, handler, after])
}

fn assert_parts(got: &Parts, want: &Parts) {
    for ((g, w), name) in got.values().iter().zip(want.values()).zip(Parts::NAMES) {
        assert!(close(*g, w), "{name}: {g} ≠ {w} ({got:?})");
    }
}

fn diagnosed(input: &DiagnosisInput) -> Diagnosis {
    diagnose(input).expect("a synthetic run diagnoses")
}

#[test]
fn known_parts_reproduce_exactly_in_closed_loop() {
    let mut input = run(2, false);
    let mut ids = SpanIds::new(1);
    let a = SynthParts {
        pool_wait: Some(MS / 2),
        ..SynthParts::new(MS, 3 * MS, MS / 2)
    };
    let b = SynthParts::new(2 * MS, 6 * MS, MS);
    input.spans = spaced_requests(&mut ids, 0, window(0), 200, false, &a);
    input
        .spans
        .extend(spaced_requests(&mut ids, 1, window(1), 200, false, &b));
    let d = diagnosed(&input);
    let w = &d.where_time_went;
    assert!(w.available && w.reason.is_none(), "{w:?}");
    assert_eq!(w.spans.joined, 400);
    assert_eq!(w.outside_windows, 0);

    let s0 = w.steps[0].decomposition.as_ref().unwrap();
    assert_eq!(s0.joined, 200);
    assert_eq!(s0.joined_share_expected, Some(1.0));
    assert_eq!(s0.joined_share_present, Some(1.0));
    assert_eq!(s0.joined_p99_ms, 5.0);
    assert_eq!(s0.recorded_p99_ms, Some(d.steps[0].p99_ms));
    assert_eq!(
        w.run.as_ref().unwrap().recorded_p99_ms,
        None,
        "the synthetic summary has no overall figures"
    );
    let want_a = ms_parts(0.0, 1.0, 0.5, 0.0, 3.0, 0.5);
    for q in &s0.at {
        assert_parts(&q.parts_ms, &want_a);
    }
    assert_parts(&s0.share, &ms_parts(0.0, 0.2, 0.1, 0.0, 0.6, 0.1));
    let s1 = w.steps[1].decomposition.as_ref().unwrap();
    assert_parts(&s1.at[1].parts_ms, &ms_parts(0.0, 2.0, 0.0, 0.0, 6.0, 1.0));

    // Run-wide: Σ part ÷ Σ latency over both steps (1,000 ms and 1,800 ms of latency).
    let run = w.run.as_ref().unwrap();
    assert_eq!(run.joined, 400);
    assert!(close(run.share.before_handler, 600.0 / 2800.0));
    assert!(close(run.share.handler, 1800.0 / 2800.0));
    assert_eq!(run.at[0].latency_ms, 5.0);
    assert_eq!(run.at[2].latency_ms, 9.0);

    // Inside the handler: 200 server spans of 3.5 ms in 10 s; 0.5 ms pool wait each.
    let i0 = &w.steps[0].inside;
    assert!(close(i0.handler_concurrency.unwrap(), 0.07), "{i0:?}");
    assert_eq!(i0.handler_concurrency_source, Some(InsideSource::Spans));
    assert!(close(
        i0.waiting_before_handler.unwrap(),
        d.steps[0].n_eff - 0.07
    ));
    assert_eq!(i0.pool_wait_mean_ms, Some(0.5));
    assert_eq!(i0.pool_wait_source, Some(InsideSource::Spans));
    assert_eq!(d.steps[0].handler_concurrency, i0.handler_concurrency);
    assert_eq!(d.steps[0].pool_wait_mean_ms, Some(0.5));
    // No pool in step 1 and no pool metric: no pool figure.
    assert_eq!(d.steps[1].pool_wait_mean_ms, None);
    assert!(close(d.steps[1].handler_concurrency.unwrap(), 0.12));

    // The reports carry the section.
    let t = text::render(&d);
    assert!(
        t.contains("Where the time went (client and server spans"),
        "{t}"
    );
    for line in t.lines() {
        assert!(line.chars().count() <= text::COLUMNS, "too wide: {line}");
    }
    assert!(t.lines().any(|l| l.starts_with("all ")), "{t}");
    let h = html::render(&d);
    assert!(h.contains(time_chart::TITLE) && h.contains("step 1, at p99: handler"));
}

#[test]
fn open_loop_lateness_is_a_part() {
    let mut input = run(1, true);
    let mut ids = SpanIds::new(2);
    let p = SynthParts {
        late: 2 * MS,
        ..SynthParts::new(MS, 4 * MS, MS)
    };
    input.spans = spaced_requests(&mut ids, 0, window(0), 200, true, &p);
    let d = diagnosed(&input);
    let s0 = d.where_time_went.steps[0].decomposition.as_ref().unwrap();
    assert_eq!(s0.joined, 200);
    assert_eq!(s0.mean_ms, 8.0, "latency counts from the intended send");
    assert_parts(&s0.at[0].parts_ms, &ms_parts(2.0, 1.0, 0.0, 0.0, 4.0, 1.0));
    assert_parts(&s0.share, &ms_parts(0.25, 0.125, 0.0, 0.0, 0.5, 0.125));
    assert!(
        d.where_time_went.notes.is_empty(),
        "{:?}",
        d.where_time_went.notes
    );
}

#[test]
fn stalls_are_the_handlers_overlap_with_server_events() {
    let mut input = run(1, false);
    let mut ids = SpanIds::new(3);
    let (from, _) = window(0);
    let fast = SynthParts::new(MS, 10 * MS, MS);
    let slow = SynthParts::new(MS, 50 * MS, MS);
    for i in 0..100u64 {
        let origin = from + i * 90 * MS;
        let p = if i % 10 == 9 { &slow } else { &fast };
        let (c, s) = request_spans(&mut ids, 0, origin, false, p);
        if i % 10 == 9 {
            // Two overlapping pauses inside the span: 40 ms of it, counted once.
            for (seq, (at, len)) in [(2 * MS, 30 * MS), (12 * MS, 30 * MS)].iter().enumerate() {
                input.events.push(ServerEvent {
                    kind: EventKind::GcPause,
                    seq: seq as u64 + 1,
                    start_unix_ns: s.start_unix_ns + at,
                    duration_ns: *len,
                    request_index: None,
                    service: "target-api".into(),
                    attributes: Default::default(),
                });
            }
        }
        input.spans.extend([c, s]);
    }
    let d = diagnosed(&input);
    let s0 = d.where_time_went.steps[0].decomposition.as_ref().unwrap();
    assert_parts(&s0.at[0].parts_ms, &ms_parts(0.0, 1.0, 0.0, 0.0, 10.0, 1.0));
    // p99 and p99.9 bands hold only the ten slow requests (ranks 97–99).
    assert_parts(
        &s0.at[1].parts_ms,
        &ms_parts(0.0, 1.0, 0.0, 40.0, 10.0, 1.0),
    );
    assert_parts(
        &s0.at[2].parts_ms,
        &ms_parts(0.0, 1.0, 0.0, 40.0, 10.0, 1.0),
    );
    // 10 × 40 ms stalled out of 90 × 12 + 10 × 52 ms.
    assert!(close(s0.share.stalled, 400.0 / 1600.0));
    assert_eq!(s0.joined_p99_ms, 52.0);
}

#[test]
fn unjoined_spans_are_counted_not_dropped() {
    let mut input = run(2, false);
    let mut ids = SpanIds::new(4);
    let p = SynthParts::new(MS, 2 * MS, MS);
    let (from, _) = window(0);
    let mut spans = Vec::new();
    for i in 0..60u64 {
        let (c, s) = request_spans(&mut ids, 0, from + i * 100 * MS, false, &p);
        match i {
            // The server span never arrived.
            0..5 => spans.push(c),
            // The client span was lost (client queue full).
            5..8 => spans.push(s),
            _ => spans.extend([c, s]),
        }
    }
    // A health check (root server span) and an internal span in step 0's window.
    let (mut root, mut internal) = request_spans(&mut ids, 0, from + 7 * S, false, &p);
    root.kind = SpanKind::Server;
    root.step = None;
    internal.kind = SpanKind::Internal;
    spans.extend([root, internal]);
    // A request sent after the last step ended: outside every measured window.
    let (late_c, late_s) = request_spans(&mut ids, 1, window(1).1 + S, false, &p);
    spans.extend([late_c, late_s]);
    input.spans = spans;
    let total = input.spans.len() as u64;
    input.summary.spans_dropped = 3;

    let d = diagnosed(&input);
    let w = &d.where_time_went;
    let c = w.steps[0].spans;
    assert_eq!(
        (
            c.client,
            c.joined,
            c.client_without_server,
            c.server_without_client,
            c.other
        ),
        (57, 52, 5, 3, 2)
    );
    let dec = w.steps[0].decomposition.as_ref().unwrap();
    assert_eq!(dec.joined, 52);
    assert_eq!(dec.joined_share_expected, Some(52.0 / 200.0));
    assert_eq!(dec.joined_share_present, Some(52.0 / 57.0));
    assert_eq!(w.steps[1].spans.client, 0);
    assert!(w.steps[1].decomposition.is_none());
    let t = text::render(&d);
    assert!(
        t.contains("  1      –  none joined (0 client spans)"),
        "{t}"
    );
    let r = w.spans;
    assert_eq!((r.client, r.joined, r.other), (58, 53, 2));
    assert_eq!(w.outside_windows, 1);
    assert_eq!(
        2 * r.joined + r.client_without_server + r.server_without_client + r.other,
        total,
        "every span is counted once"
    );
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("dropped 3 sampled client spans")),
        "{:?}",
        w.notes
    );
}

#[test]
fn handler_concurrency_scales_by_the_effective_ratio() {
    let mut input = run(1, false);
    // Client ratio 1/2, store ratio 1/2: a quarter of the 200 requests have spans.
    input.summary.trace_sample_ratio = 0.5;
    input.span_summary = Some(store_summary(0.5, 100));
    let mut ids = SpanIds::new(5);
    let p = SynthParts::new(0, 20 * MS, 0);
    input.spans = spaced_requests(&mut ids, 0, window(0), 50, false, &p);
    // A metric that disagrees: the spans win when there are enough of them.
    input.metrics = active_requests(&[(window(0).0, 9.0), (window(0).1, 9.0)]);
    let d = diagnosed(&input);
    let w = &d.where_time_went;
    assert_eq!(w.sampling.effective_ratio, Some(0.25));
    let i = &w.steps[0].inside;
    // 50 × 20 ms = 1 s of handler time in 10 s, ÷ 0.25.
    assert!(close(i.handler_concurrency.unwrap(), 0.4), "{i:?}");
    assert_eq!(i.handler_concurrency_source, Some(InsideSource::Spans));
    assert_eq!(i.server_spans, 50);
    let dec = w.steps[0].decomposition.as_ref().unwrap();
    assert_eq!(dec.expected_client_spans, Some(50.0));
    assert_eq!(dec.joined_share_expected, Some(1.0));
}

#[test]
fn metrics_stand_in_without_spans() {
    let mut input = run(1, false);
    let (from, to) = window(0);
    input.metrics = active_requests(&[(from, 2.0), (from + 5 * S, 4.0), (to, 4.0)]);
    input
        .metrics
        .extend(pool_wait_histogram(&[(from, 0, 0.0), (to, 100, 0.5)]));
    let d = diagnosed(&input);
    let w = &d.where_time_went;
    assert!(!w.available);
    assert!(
        w.reason.as_deref().unwrap().starts_with("no spans"),
        "{w:?}"
    );
    let i = &w.steps[0].inside;
    assert_eq!(i.handler_concurrency, Some(3.0));
    assert_eq!(
        i.handler_concurrency_source,
        Some(InsideSource::ActiveRequestsMetric)
    );
    assert!(close(i.pool_wait_mean_ms.unwrap(), 5.0));
    assert_eq!(i.pool_wait_source, Some(InsideSource::PoolWaitMetric));
    assert_eq!(d.steps[0].handler_concurrency, Some(3.0));
    assert!(close(d.steps[0].pool_wait_mean_ms.unwrap(), 5.0));
    let t = text::render(&d);
    assert!(t.contains("Where the time went: no spans"), "{t}");
    assert!(t.contains("metric/metric"), "{t}");
}

#[test]
fn a_negative_before_handler_is_clamped_and_counted() {
    let mut input = run(1, false);
    let mut ids = SpanIds::new(6);
    let p = SynthParts::new(MS, 4 * MS, MS);
    let mut spans: Vec<SpanTiming> = spaced_requests(&mut ids, 0, window(0), 50, false, &p);
    // The first server span starts 0.2 ms before its client sent: the clocks disagree.
    spans[1].start_unix_ns = spans[0].start_unix_ns - MS / 5;
    input.spans = spans;
    let d = diagnosed(&input);
    let w = &d.where_time_went;
    let dec = w.steps[0].decomposition.as_ref().unwrap();
    assert_eq!(dec.clamped, 1);
    assert!(close(w.clamped_max_ms, 0.2));
    assert!(
        w.notes
            .iter()
            .any(|n| n.contains("1 requests had a part clamped"))
    );
    // Its parts still add up to its latency: before 0, the handler counted from the send.
    assert!(close(dec.share.total(), 1.0));
    assert!(close(dec.share.before_handler, 49.0 / 300.0));
}
