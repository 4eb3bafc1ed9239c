//! Step rows for the signals' unit tests.

use crate::model::{KernelStep, ProcessCpu, StepRow, StepVerdict, ThreadLoad, VerdictKind};

/// A closed-loop step at N = 16 doing 1,000 req/s at 16 ms (N_eff/N = 1), both CPUs at 20%
/// of 2 cores, nothing else known.
pub(crate) fn row() -> StepRow {
    StepRow {
        index: 0,
        concurrency: Some(16),
        target_rate: None,
        load: 16.0,
        rps: 1000.0,
        ok_rps: 1000.0,
        requests: 10_000,
        mean_ms: 16.0,
        p50_ms: 15.0,
        p90_ms: 20.0,
        p99_ms: 30.0,
        p999_ms: 40.0,
        n_eff: 16.0,
        load_ratio: Some(1.0),
        client_cpu: Some(0.2),
        server_cpu: Some(0.2),
        system_cpu: None,
        sched_lag_p99_ms: 0.5,
        errors: Default::default(),
        error_share: 0.0,
        socket_error_share: 0.0,
        shed_share: 0.0,
        late_share: 0.0,
        kernel: KernelStep::default(),
        handler_concurrency: None,
        pool_wait_mean_ms: None,
        before_handler_share: None,
        client_process: None,
        server_process: None,
        machine_cpus: None,
        other_cores: None,
        steal: None,
        loadgen_cpu: Vec::new(),
        stalls: Vec::new(),
        verdict: StepVerdict {
            kind: VerdictKind::Inconclusive,
            server_bound: None,
            label: String::new(),
            disturbed: false,
        },
    }
}

/// A process at `cores` of `capacity` with these threads (name, cores).
pub(crate) fn process(cores: f64, capacity: f64, threads: &[(&str, f64)]) -> ProcessCpu {
    ProcessCpu {
        cores,
        capacity,
        run_queue_wait: None,
        threads: threads
            .iter()
            .enumerate()
            .map(|(i, &(name, c))| ThreadLoad {
                tid: 100 + i as u32,
                name: name.into(),
                cores: c,
            })
            .collect(),
        busy_threads: threads.iter().filter(|t| t.1 >= 0.05).count() as u32,
    }
}
