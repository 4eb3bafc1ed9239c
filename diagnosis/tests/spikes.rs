//! Spikes on synthetic per-request series: period by the right axis, events matched with
//! significance, and no spike verdict on noise.

use satlab_diagnosis::{Diagnosis, PeriodAxis, diagnose};
use satlab_record::EventKind;
use satlab_testkit::synth::{Schedule, SeriesPlan, series_run};

/// Throughput changes between segments, so count-driven spikes are regular by index only
/// and timer-driven ones by time only.
fn segments() -> Vec<(u32, f64, f64)> {
    vec![(10, 2000.0, 6.0), (20, 5000.0, 6.0), (40, 9000.0, 6.0)]
}

fn run(plan: SeriesPlan) -> Diagnosis {
    diagnose(&series_run(&plan)).expect("diagnosis")
}

#[test]
fn spikes_every_n_requests_have_a_request_period_and_a_cause() {
    let mut plan = SeriesPlan::new(segments());
    plan.schedule = Schedule::EveryRequests(1000);
    plan.event = Some(EventKind::GcPause);
    let d = run(plan);
    let s = &d.spikes;
    assert!(s.detected, "{s:#?}");
    let p = s.period.as_ref().expect("a period");
    assert_eq!(p.by, PeriodAxis::Requests, "{p:?}");
    assert!((p.requests - 1000.0).abs() <= 100.0, "{p:?}");
    let c = s.cause.as_ref().expect("a cause");
    assert_eq!(c.kind, EventKind::GcPause);
    assert!(c.matched_fraction >= 0.8, "{c:?}");
    assert!(c.p_value < 0.01, "{c:?}");
    assert!(s.explains.as_ref().unwrap().p999 > 0.5, "{:?}", s.explains);
}

#[test]
fn spikes_every_t_seconds_have_a_time_period() {
    let mut plan = SeriesPlan::new(segments());
    plan.schedule = Schedule::EverySeconds(0.5);
    plan.event = Some(EventKind::CpuBurst);
    let d = run(plan);
    let s = &d.spikes;
    assert!(s.detected, "{s:#?}");
    let p = s.period.as_ref().expect("a period");
    assert_eq!(p.by, PeriodAxis::Time, "{p:?}");
    assert!((p.seconds - 0.5).abs() <= 0.05, "{p:?}");
    assert_eq!(s.cause.as_ref().unwrap().kind, EventKind::CpuBurst);
}

#[test]
fn events_that_do_not_coincide_are_not_significant() {
    // Pauses every 1000 requests, but the reported events are of a different schedule:
    // take the events of a time-driven run and pair them with count-driven spikes.
    let mut count_plan = SeriesPlan::new(segments());
    count_plan.schedule = Schedule::EveryRequests(1000);
    let mut input = series_run(&count_plan);
    let mut other = SeriesPlan::new(segments());
    other.schedule = Schedule::EverySeconds(0.77);
    other.event = Some(EventKind::PoolRecycle);
    other.seed = 9;
    input.events = series_run(&other).events;
    let d = diagnose(&input).unwrap();
    assert!(d.spikes.detected, "periodic spikes are still found");
    let c = d.spikes.cause.as_ref().expect("a best match is reported");
    assert!(!c.significant && c.p_value >= 0.01, "{c:?}");
}

#[test]
fn no_spike_verdict_on_a_clean_run() {
    for seed in 1..=3 {
        let mut plan = SeriesPlan::new(segments());
        plan.sigma = 0.35;
        plan.seed = seed;
        let d = run(plan);
        assert!(!d.spikes.detected, "seed {seed}: {:#?}", d.spikes);
        assert!(d.spikes.cause.is_none());
    }
}

#[test]
fn diagnosis_is_deterministic() {
    let mut plan = SeriesPlan::new(segments());
    plan.schedule = Schedule::EveryRequests(700);
    plan.event = Some(EventKind::PoolRecycle);
    let a = serde_json::to_string(&run(plan.clone())).unwrap();
    let b = serde_json::to_string(&run(plan)).unwrap();
    assert_eq!(a, b);
}
