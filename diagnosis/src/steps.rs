//! The per-step table: loadgen figures joined with CPU, thread, kernel samples and server
//! events by time window.

use crate::input::DiagnosisInput;
use crate::model::{KernelStep, LoadgenCpu, StepRow, StepVerdict, VerdictKind};
use crate::process_cpu;
use crate::stall;
use satlab_record::Failure;
use satlab_record::samples::Role;
use satlab_record::summary::{LatencySummary, LoadMode, StepSummary};
use satlab_record::telemetry::{PROCESS_CPU_UTILIZATION, SERVICE_LOADGEN};
use std::collections::BTreeMap;

/// HTTP statuses that mean the server refused work: 429 Too Many Requests, 503 Unavailable.
pub const SHED_STATUSES: [u16; 2] = [429, 503];

/// The target's CPU from its own `process.cpu.utilization` gauge over `(ws, we]`: the source
/// when no process of it was sampled (a distributed run, a target on another host).
fn otlp_server_cpu(input: &DiagnosisInput, ws: u64, we: u64) -> Option<f64> {
    let v: Vec<f64> = input
        .metrics
        .iter()
        .filter(|m| {
            m.name == PROCESS_CPU_UTILIZATION
                && m.service != SERVICE_LOADGEN
                && m.t_unix_ns > ws
                && m.t_unix_ns <= we
        })
        .filter_map(|m| m.value)
        .filter(|u| u.is_finite())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Each loadgen's CPU in step `index` of a distributed run (empty otherwise).
fn loadgen_cpu(input: &DiagnosisInput, index: u32) -> Vec<LoadgenCpu> {
    let Some(d) = &input.distributed else {
        return Vec::new();
    };
    d.parts
        .iter()
        .filter(|p| p.merged)
        .filter_map(|p| {
            Some(LoadgenCpu {
                loadgen: p.loadgen,
                cpu: *p.client_cpu.get(index as usize)?,
            })
        })
        .collect()
}

/// Build one row per step that completed requests (verdicts are filled in later).
pub fn build_rows(input: &DiagnosisInput) -> Vec<StepRow> {
    let s = &input.summary;
    let open = s.mode == LoadMode::Open;
    s.steps
        .iter()
        .filter(|st| st.requests > 0)
        .map(|st| row(input, st, open))
        .collect()
}

fn row(input: &DiagnosisInput, st: &StepSummary, open: bool) -> StepRow {
    let s = &input.summary;
    let ws = s
        .started_unix_ns
        .saturating_add(st.measure_start_us.saturating_mul(1000));
    let we = s
        .started_unix_ns
        .saturating_add(st.end_us.saturating_mul(1000));
    let requests = st.requests.max(1) as f64;

    let mut errors: BTreeMap<Failure, u64> = st
        .errors
        .iter()
        .filter(|(_, v)| **v > 0)
        .filter_map(|(k, v)| Some((Failure::error(*k)?, *v)))
        .collect();
    for (code, n) in &st.status {
        if let Some(f) = Failure::status(*code).filter(|_| *n > 0) {
            errors.entry(f).or_insert(*n);
        }
    }
    let failed = st.failed();
    let socket: u64 = errors
        .iter()
        .filter(|(k, _)| k.is_socket())
        .map(|(_, v)| *v)
        .sum();
    let shed: u64 = SHED_STATUSES.iter().filter_map(|c| st.status.get(c)).sum();

    let cpu_mean = |role: Role| -> Option<f64> {
        let v: Vec<f64> = input
            .processes
            .iter()
            .filter(|p| p.role == role && p.t_unix_ns > ws && p.t_unix_ns <= we)
            .map(|p| p.cpu_util)
            .filter(|u| u.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let server_cpu = cpu_mean(Role::Server).or_else(|| otlp_server_cpu(input, ws, we));
    let client_cpu = if st.client_cpu > 0.0 || s.cpu_capacity > 0.0 {
        Some(st.client_cpu)
    } else {
        cpu_mean(Role::Client)
    };

    let sys: Vec<f64> = input
        .system
        .iter()
        .filter(|p| p.t_unix_ns > ws && p.t_unix_ns <= we && p.cpu_util.is_finite())
        .map(|p| p.cpu_util)
        .collect();
    let system_cpu = (!sys.is_empty()).then(|| sys.iter().sum::<f64>() / sys.len() as f64);
    let stolen: Vec<f64> = input
        .system
        .iter()
        .filter(|p| p.t_unix_ns > ws && p.t_unix_ns <= we && p.steal.is_finite())
        .map(|p| p.steal.clamp(0.0, 1.0))
        .collect();
    let steal = (!stolen.is_empty())
        .then(|| stolen.iter().sum::<f64>() / stolen.len() as f64)
        .filter(|&s| s > 0.0);
    let machine_cpus = input
        .system
        .iter()
        .filter(|p| p.t_unix_ns > ws && p.t_unix_ns <= we)
        .map(|p| p.per_cpu.len() as u32)
        .max()
        .filter(|&n| n > 0);
    let client_process = process_cpu::summarise(&input.processes, Role::Client, ws, we);
    let server_process = process_cpu::summarise(&input.processes, Role::Server, ws, we);
    // What the machine spent beyond the sampled processes: other programs (and the
    // observer, when it did not sample itself).
    let other_cores = match (system_cpu, machine_cpus, &client_process, &server_process) {
        (Some(u), Some(n), Some(c), Some(s)) => {
            let observer =
                process_cpu::mean_cores(&input.processes, Role::Observer, ws, we).unwrap_or(0.0);
            // The busy share counts stolen time, which no program of this guest used.
            let busy = (u - steal.unwrap_or(0.0)).max(0.0);
            Some((busy * f64::from(n) - c.cores - s.cores - observer).max(0.0))
        }
        _ => None,
    };
    let mut kernel = KernelStep::default();
    for k in input
        .kernel
        .iter()
        .filter(|k| k.t_unix_ns > ws && k.t_unix_ns <= we)
    {
        kernel.samples += 1;
        for (name, v) in &k.deltas {
            *kernel.deltas.entry(name.clone()).or_insert(0) += v;
        }
        if let Some(tw) = k.gauges.get("tcp_tw") {
            kernel.tw_max = Some(kernel.tw_max.unwrap_or(0).max(*tw));
        }
        if let Some((lo, hi)) = k.port_range {
            kernel.port_range_width = Some(u64::from(hi.saturating_sub(lo)) + 1);
        }
    }

    let mean_s = st.latency.mean_us / 1e6;
    let n_eff = if st.n_eff > 0.0 {
        st.n_eff
    } else {
        st.rps * mean_s
    };
    let load = if open {
        st.target_rate.unwrap_or(0.0)
    } else {
        f64::from(st.concurrency.unwrap_or(0))
    };
    let load_ratio = if load <= 0.0 {
        None
    } else if open {
        Some(st.rps / load)
    } else {
        Some(n_eff / load)
    };
    // Percentiles from the loadgen's exact per-step histogram when the run has one; else
    // the summary's (which the loadgen computed from that same histogram).
    let recorded = input
        .histograms
        .as_ref()
        .and_then(|h| h.steps.get(&st.index))
        .map(LatencySummary::from_histogram);
    let lat = recorded.as_ref().unwrap_or(&st.latency);
    let ms = |us: u64| us as f64 / 1000.0;
    StepRow {
        index: st.index,
        concurrency: st.concurrency,
        target_rate: st.target_rate,
        load,
        rps: st.rps,
        ok_rps: st.ok_rps,
        requests: st.requests,
        mean_ms: st.latency.mean_us / 1000.0,
        p50_ms: ms(lat.p50_us),
        p90_ms: ms(lat.p90_us),
        p99_ms: ms(lat.p99_us),
        p999_ms: ms(lat.p999_us),
        n_eff,
        load_ratio,
        client_cpu,
        server_cpu,
        system_cpu,
        sched_lag_p99_ms: ms(st.sched_lag.p99_us),
        errors,
        error_share: failed as f64 / requests,
        socket_error_share: socket as f64 / requests,
        shed_share: shed as f64 / requests,
        late_share: (st.late + st.dropped) as f64 / requests,
        kernel,
        handler_concurrency: None,
        pool_wait_mean_ms: None,
        before_handler_share: None,
        client_process,
        server_process,
        machine_cpus,
        other_cores,
        steal,
        loadgen_cpu: loadgen_cpu(input, st.index),
        stalls: stall::step_stalls(&input.events, ws, we, st.ok_rps),
        verdict: StepVerdict {
            kind: VerdictKind::Inconclusive,
            server_bound: None,
            label: String::new(),
            disturbed: false,
        },
    }
}
