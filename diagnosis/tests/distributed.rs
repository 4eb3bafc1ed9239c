//! A merged run of several loadgens as the diagnosis reads it: the target's CPU from its own
//! OTLP gauge when no process of it was sampled, and each missing loadgen said.

use satlab_diagnosis::{diagnose_dir, steps::build_rows};
use satlab_record::distributed::{DistributedRecord, PartRecord};
use satlab_record::telemetry::{PROCESS_CPU_UTILIZATION, SERVICE_LOADGEN};
use satlab_record::{MetricPoint, RunDir, fsio};
use satlab_testkit::synth::{SynthStep, steps_run, write_run};

fn gauge(service: &str, t_unix_ns: u64, value: f64) -> MetricPoint {
    MetricPoint {
        t_unix_ns,
        start_unix_ns: 0,
        service: service.into(),
        name: PROCESS_CPU_UTILIZATION.into(),
        kind: "gauge".into(),
        temporality: String::new(),
        attributes: Default::default(),
        value: Some(value),
        count: None,
        sum: None,
        bounds: Default::default(),
        bucket_counts: Default::default(),
    }
}

#[test]
fn without_a_sampled_target_its_cpu_comes_from_its_own_gauge() {
    let steps: Vec<SynthStep> = [(8.0, 4000.0), (16.0, 6000.0)]
        .iter()
        .map(|&(n, x)| SynthStep::new(n, x, n / x * 1000.0))
        .collect();
    let mut input = steps_run(&steps, false);
    input
        .processes
        .retain(|p| p.role != satlab_record::samples::Role::Server);
    let s = &input.summary;
    for (i, st) in s.steps.iter().enumerate() {
        let mid = s.started_unix_ns + (st.measure_start_us + st.end_us) / 2 * 1000;
        let v = [0.35, 0.91][i];
        input.metrics.push(gauge("target-api", mid, v));
        input
            .metrics
            .push(gauge("target-api", mid + 1_000_000, v + 0.02));
        // The loadgens' own gauges are not the server's.
        input.metrics.push(gauge(SERVICE_LOADGEN, mid, 0.99));
    }
    let rows = build_rows(&input);
    let cpu: Vec<f64> = rows.iter().map(|r| r.server_cpu.unwrap()).collect();
    assert!(
        (cpu[0] - 0.36).abs() < 1e-9 && (cpu[1] - 0.92).abs() < 1e-9,
        "{cpu:?}"
    );
    // With nothing from the server at all, nothing is made up.
    input.metrics.retain(|m| m.service == SERVICE_LOADGEN);
    assert!(build_rows(&input).iter().all(|r| r.server_cpu.is_none()));
}

#[test]
fn a_missing_loadgen_is_a_limitation_that_names_it() {
    let steps: Vec<SynthStep> = [(8.0, 4000.0), (16.0, 6000.0)]
        .iter()
        .map(|&(n, x)| SynthStep::new(n, x, n / x * 1000.0))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    write_run(tmp.path(), &steps_run(&steps, false)).unwrap();
    let part = |loadgen, missing: Option<&str>| PartRecord {
        loadgen,
        spec: "4:10s,8:10s".into(),
        merged: missing.is_none(),
        missing: missing.map(str::to_string),
        first_send_ms: missing.is_none().then_some(3.0),
        requests: 1000,
        client_cpu: vec![0.4, 0.5],
        sched_lag_p99_us: vec![900, 1200],
    };
    let record = DistributedRecord {
        schema: DistributedRecord::SCHEMA.into(),
        run: "r1".into(),
        plan: "8:10s,16:10s".into(),
        planned: 3,
        ran: 2,
        start_unix_ns: 0,
        start_skew_ms: 4.5,
        clock: DistributedRecord::CLOCK.into(),
        parts: vec![
            part(0, None),
            part(2, Some("it uploaded no record (never ran, or failed)")),
        ],
    };
    let dir = RunDir::new(tmp.path());
    fsio::write_json(&dir.loadgen().dir().join("distributed.json"), &record).unwrap();
    let d = diagnose_dir(tmp.path()).unwrap();
    let said = d.limitations.join("\n");
    assert!(
        said.contains("loadgen 2 is missing (it uploaded no record")
            && said.contains("the other 1 of 2 loadgens"),
        "{said}"
    );
    assert!(said.contains("2 of 3 planned loadgens joined"), "{said}");
    assert!(said.contains("first sends within 4.5 ms"), "{said}");
    // Each step knows the merged loadgens' own CPU.
    assert_eq!(d.steps[0].loadgen_cpu.len(), 1);
    assert_eq!(d.steps[1].loadgen_cpu[0].cpu, 0.5);
}
