//! The terminal report fits 80 columns and carries the verdict, the table and the spikes.

use satlab_diagnosis::diagnose;
use satlab_diagnosis::report::text::{COLUMNS, render};
use satlab_record::{ErrorKind, EventKind};
use satlab_testkit::synth::{Schedule, SeriesPlan, SynthStep, series_run, steps_run};

#[test]
fn text_report_fits_80_columns() {
    let steps: Vec<SynthStep> = [1.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0]
        .iter()
        .map(|&n: &f64| {
            let x = (900.0 * n).min(123_456.0);
            SynthStep::new(n, x, n / x * 1000.0)
                .error(ErrorKind::AddrNotAvailable, 0.2)
                .error(ErrorKind::ConnectTimeout, 0.1)
                .kernel("ListenOverflows", 123_456)
                .kernel("TCPSynRetrans", 98_765)
                .server_cpu(Some(0.3))
        })
        .collect();
    let t = render(&diagnose(&steps_run(&steps, false)).unwrap());
    for line in t.lines() {
        assert!(
            line.chars().count() <= COLUMNS,
            "{} > 80: {line}",
            line.chars().count()
        );
    }
    assert!(t.contains("VERDICT  SOCKET"), "{t}");
    assert!(t.contains("addr_not_available"));
    assert!(t.contains("◆"), "the knee is marked");
    assert_eq!(t.lines().filter(|l| l.starts_with("  5 ")).count(), 1);
}

#[test]
fn text_report_states_spikes_and_cause() {
    let mut plan = SeriesPlan::new(vec![(10, 2000.0, 5.0), (20, 5000.0, 5.0)]);
    plan.schedule = Schedule::EveryRequests(1000);
    plan.event = Some(EventKind::GcPause);
    let t = render(&diagnose(&series_run(&plan)).unwrap());
    assert!(t.contains("every ~1000 requests"), "{t}");
    assert!(
        t.contains("coincide with gc_pause events (p < 0.002)"),
        "{t}"
    );
}
