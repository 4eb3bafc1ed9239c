//! Synthetic runs for tests and benchmarks: step tables with chosen figures, and
//! per-request series with pauses every N requests or every T seconds (stop-the-world, or
//! taking part of the server's capacity), plus unreported pauses at random times.

use satlab_common::rng::SplitMix64;
use satlab_diagnosis::{DiagnosisInput, RequestSource};
use satlab_record::samples::{KernelSample, ProcessSample, Role, SystemSample, ThreadCpu};
use satlab_record::summary::{LagSummary, LatencySummary, LoadgenSummary, StepSummary};
use satlab_record::{ErrorKind, EventKind, RecordError, RequestRecord, RunDir, ServerEvent};
use std::collections::BTreeMap;
use std::path::Path;

/// Wall-clock start of every synthetic run (2026-01-01T00:00:00Z), Unix ns.
pub const T0_NS: u64 = 1_767_225_600_000_000_000;
/// Length of each synthetic step, s.
pub const STEP_S: u64 = 10;

/// The figures of one synthetic step.
#[derive(Debug, Clone, Default)]
pub struct SynthStep {
    /// Concurrency (closed loop) or offered rate (open loop).
    pub load: f64,
    /// Completed requests/s, any outcome.
    pub rps: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// Client CPU 0–1.
    pub client_cpu: f64,
    /// Server CPU 0–1 (`None`: no samples).
    pub server_cpu: Option<f64>,
    /// Client scheduler lag p99, ms.
    pub lag_p99_ms: f64,
    /// Failures as shares of requests.
    pub errors: Vec<(ErrorKind, f64)>,
    /// Share of requests answered 429.
    pub shed: f64,
    /// Kernel counter increases over the step.
    pub kernel: Vec<(String, u64)>,
    /// TIME_WAIT gauge and port range.
    pub time_wait: Option<(u64, (u32, u32))>,
    /// Open loop: share of sends late.
    pub late: f64,
    /// Machine-wide CPU busy (`None`: no system samples).
    pub system_cpu: Option<f64>,
    /// The client's threads in every sample: (name, cores).
    pub client_threads: Vec<(String, f64)>,
    /// The server's threads in every sample: (name, cores).
    pub server_threads: Vec<(String, f64)>,
    /// The client's run-queue wait, thread-s/s (`None`: not sampled).
    pub client_wait: Option<f64>,
    /// The server's run-queue wait, thread-s/s (`None`: not sampled).
    pub server_wait: Option<f64>,
    /// Count-driven gc pauses over the step: (every N requests, pause ms).
    pub pauses: Option<(u64, f64)>,
    /// The hypervisor's steal share, with the system samples.
    pub steal: f64,
}

impl SynthStep {
    /// A step at `load` achieving `rps` with mean latency `mean_ms`; CPUs at 20%.
    pub fn new(load: f64, rps: f64, mean_ms: f64) -> Self {
        SynthStep {
            load,
            rps,
            mean_ms,
            client_cpu: 0.2,
            server_cpu: Some(0.2),
            ..Default::default()
        }
    }
    /// Set the client CPU.
    pub fn client_cpu(mut self, u: f64) -> Self {
        self.client_cpu = u;
        self
    }
    /// Set the server CPU (`None`: no server samples).
    pub fn server_cpu(mut self, u: Option<f64>) -> Self {
        self.server_cpu = u;
        self
    }
    /// Set the client scheduler lag p99.
    pub fn lag_ms(mut self, ms: f64) -> Self {
        self.lag_p99_ms = ms;
        self
    }
    /// Add a failure kind at a share of requests.
    pub fn error(mut self, kind: ErrorKind, share: f64) -> Self {
        self.errors.push((kind, share));
        self
    }
    /// Answer a share of requests with 429.
    pub fn shed(mut self, share: f64) -> Self {
        self.shed = share;
        self
    }
    /// Add a kernel counter increase.
    pub fn kernel(mut self, name: &str, n: u64) -> Self {
        self.kernel.push((name.into(), n));
        self
    }
    /// Set TIME_WAIT and the port range.
    pub fn time_wait(mut self, tw: u64, range: (u32, u32)) -> Self {
        self.time_wait = Some((tw, range));
        self
    }
    /// Set the machine-wide CPU.
    pub fn system_cpu(mut self, u: f64) -> Self {
        self.system_cpu = Some(u);
        self
    }
    /// Set the steal share (system samples needed: see [`SynthStep::system_cpu`]).
    pub fn steal(mut self, s: f64) -> Self {
        self.steal = s;
        self
    }
    /// Open loop: share of late sends.
    pub fn late(mut self, share: f64) -> Self {
        self.late = share;
        self
    }
    /// Give the client these threads (name, cores) in every sample.
    pub fn client_threads(mut self, threads: &[(&str, f64)]) -> Self {
        self.client_threads = threads.iter().map(|&(n, c)| (n.into(), c)).collect();
        self
    }
    /// Give the server these threads (name, cores) in every sample.
    pub fn server_threads(mut self, threads: &[(&str, f64)]) -> Self {
        self.server_threads = threads.iter().map(|&(n, c)| (n.into(), c)).collect();
        self
    }
    /// Set the client's run-queue wait (thread-s/s).
    pub fn client_wait(mut self, w: f64) -> Self {
        self.client_wait = Some(w);
        self
    }
    /// Set the server's run-queue wait (thread-s/s).
    pub fn server_wait(mut self, w: f64) -> Self {
        self.server_wait = Some(w);
        self
    }
    /// Pause the server for `ms` every `every` requests (gc_pause events, evenly spread
    /// over the step at its throughput).
    pub fn pauses(mut self, every: u64, ms: f64) -> Self {
        self.pauses = Some((every, ms));
        self
    }
}

fn base_summary(open: bool, steps: Vec<StepSummary>) -> LoadgenSummary {
    let end_us = steps.last().map(|s| s.end_us).unwrap_or(0);
    // Built through serde so fields the schema adds later with defaults need no change here.
    let v = serde_json::json!({
        "schema": LoadgenSummary::SCHEMA,
        "tool_version": "synthetic",
        "pid": 1,
        "url": "http://127.0.0.1:8080/api/vector/add",
        "method": "POST",
        "mode": if open { "open" } else { "closed" },
        "connection": "keep_alive",
        "http_version": "http1",
        "plan": "synthetic",
        "settle_ms": 0,
        "started_unix_ns": T0_NS,
        "ended_unix_ns": T0_NS + end_us * 1000,
        "interrupted": false,
        "interrupt_reason": null,
        "cpu_capacity": 1.0,
        "trace_sample_ratio": 0.0,
        "steps": [],
        "overall": StepSummary { index: u32::MAX, ..Default::default() },
    });
    let mut s: LoadgenSummary =
        serde_json::from_value(v).expect("the synthetic summary matches the schema");
    s.steps = steps;
    s
}

/// A run with these steps (each [`STEP_S`] long), CPU samples every second (with the
/// steps' threads and run-queue waits), one kernel sample per step and the steps' pauses;
/// no per-request log.
pub fn steps_run(steps: &[SynthStep], open: bool) -> DiagnosisInput {
    let mut sums = Vec::new();
    let mut processes = Vec::new();
    let mut kernel = Vec::new();
    let mut system = Vec::new();
    let mut events = Vec::new();
    let mut served = 0u64;
    for (i, s) in steps.iter().enumerate() {
        let start_us = i as u64 * STEP_S * 1_000_000;
        let end_us = start_us + STEP_S * 1_000_000;
        let requests = (s.rps * STEP_S as f64).round() as u64;
        let mut errors = BTreeMap::new();
        let mut failed = 0;
        for (k, share) in &s.errors {
            let n = (requests as f64 * share).round() as u64;
            failed += n;
            errors.insert(*k, n);
        }
        let shed = (requests as f64 * s.shed).round() as u64;
        let mut status = BTreeMap::new();
        status.insert(200, requests.saturating_sub(failed + shed));
        if shed > 0 {
            status.insert(429, shed);
        }
        let ok = requests.saturating_sub(failed + shed);
        let mean_us = s.mean_ms * 1000.0;
        sums.push(StepSummary {
            index: i as u32,
            concurrency: (!open).then_some(s.load as u32),
            target_rate: open.then_some(s.load),
            start_us,
            measure_start_us: start_us,
            end_us,
            requests,
            ok,
            rps: s.rps,
            ok_rps: ok as f64 / STEP_S as f64,
            latency: LatencySummary {
                mean_us,
                stdev_us: mean_us / 4.0,
                min_us: (mean_us / 2.0) as u64,
                p50_us: mean_us as u64,
                p90_us: (mean_us * 1.5) as u64,
                p95_us: (mean_us * 1.8) as u64,
                p99_us: (mean_us * 2.5) as u64,
                p999_us: (mean_us * 4.0) as u64,
                max_us: (mean_us * 6.0) as u64,
            },
            n_eff: s.rps * mean_us / 1e6,
            errors,
            status,
            dropped: 0,
            late: (requests as f64 * s.late) as u64,
            send_lateness: None,
            in_flight_mean: s.rps * mean_us / 1e6,
            client_cpu: s.client_cpu,
            sched_lag: LagSummary {
                mean_us: s.lag_p99_ms * 300.0,
                p99_us: (s.lag_p99_ms * 1000.0) as u64,
                max_us: (s.lag_p99_ms * 2000.0) as u64,
            },
        });
        if let Some((every, ms)) = s.pauses {
            let n = (requests / every.max(1)).max(1);
            let gap_ns = STEP_S * 1_000_000_000 / n;
            for k in 0..n {
                served += every;
                events.push(ServerEvent {
                    kind: EventKind::GcPause,
                    seq: events.len() as u64 + 1,
                    start_unix_ns: T0_NS + start_us * 1000 + k * gap_ns + gap_ns / 4,
                    duration_ns: (ms * 1e6) as u64,
                    request_index: Some(served),
                    service: "target-api".into(),
                    attributes: BTreeMap::new(),
                });
            }
        }
        for sec in 1..=STEP_S {
            let t = T0_NS + start_us * 1000 + sec * 1_000_000_000;
            let sample = |role, pid, util: f64, threads: &[(String, f64)], wait| ProcessSample {
                t_unix_ns: t,
                role,
                pid,
                cpu_cores: util * 2.0,
                cpu_capacity: 2.0,
                cpu_util: util,
                rss_bytes: 50 << 20,
                threads: 8,
                open_fds: 64,
                fd_limit: 1024,
                thread_cpu: threads
                    .iter()
                    .enumerate()
                    .map(|(k, (name, cores))| ThreadCpu {
                        tid: pid * 100 + k as u32,
                        name: name.clone(),
                        cpu_cores: *cores,
                    })
                    .collect(),
                run_queue_wait: wait,
            };
            processes.push(sample(
                Role::Client,
                1,
                s.client_cpu,
                &s.client_threads,
                s.client_wait,
            ));
            if let Some(u) = s.server_cpu {
                processes.push(sample(Role::Server, 2, u, &s.server_threads, s.server_wait));
            }
            if let Some(u) = s.system_cpu {
                system.push(SystemSample {
                    t_unix_ns: t,
                    cpu_util: u,
                    per_cpu: vec![u, u],
                    steal: s.steal,
                });
            }
        }
        let mut ks = KernelSample {
            t_unix_ns: T0_NS + end_us * 1000,
            interval_s: STEP_S as f64,
            ..Default::default()
        };
        for (k, n) in &s.kernel {
            ks.deltas.insert(k.clone(), *n);
        }
        if let Some((tw, range)) = s.time_wait {
            ks.gauges.insert("tcp_tw".into(), tw);
            ks.port_range = Some(range);
        }
        kernel.push(ks);
    }
    let mut input = DiagnosisInput::new(base_summary(open, sums));
    input.processes = processes;
    input.kernel = kernel;
    input.system = system;
    input.events = events;
    input
}

/// When the synthetic server pauses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Never.
    None,
    /// Every N requests (count-driven: GC, pool recycling).
    EveryRequests(u64),
    /// Every T seconds (timer-driven: cron).
    EverySeconds(f64),
}

/// A per-request series to generate.
#[derive(Debug, Clone)]
pub struct SeriesPlan {
    /// Segments of (concurrency label, requests/s, seconds).
    pub segments: Vec<(u32, f64, f64)>,
    /// Median latency, µs.
    pub base_us: f64,
    /// Log-normal spread of latency (σ of ln latency).
    pub sigma: f64,
    /// When pauses happen.
    pub schedule: Schedule,
    /// Pause length, µs.
    pub pause_us: u64,
    /// The event kind reported for each pause (`None`: pauses are not reported).
    pub event: Option<EventKind>,
    /// Random seed.
    pub seed: u64,
    /// Median latency per segment from Little's law (concurrency / rate) instead of `base_us`,
    /// as in a closed loop where every worker waits on the server.
    pub little: bool,
    /// Share of the server's capacity left during a scheduled pause: 0 stops the world
    /// (every request in flight or arriving waits it out); 0.5 halves it, as a CPU burst on
    /// the server's only core does, and work piles up at `utilisation − 0.5` while it lasts,
    /// then drains at `1 − utilisation`; 1 leaves the server untouched (events that cause
    /// nothing).
    pub pause_capacity: f64,
    /// Share of the server's capacity the requests use outside pauses (0–1): how fast work
    /// piles up during a partial pause and drains after it.
    pub utilisation: f64,
    /// Unreported stop-the-world pauses at uniformly random times, as (how many, length in
    /// µs): slow bursts with no server event behind them.
    pub noise_pauses: Vec<(usize, u64)>,
}

impl SeriesPlan {
    /// A plan with a 1 ms median, modest noise and no pauses.
    pub fn new(segments: Vec<(u32, f64, f64)>) -> Self {
        SeriesPlan {
            segments,
            base_us: 1000.0,
            sigma: 0.2,
            schedule: Schedule::None,
            pause_us: 40_000,
            event: None,
            seed: 1,
            little: false,
            pause_capacity: 0.0,
            utilisation: 0.7,
            noise_pauses: Vec::new(),
        }
    }
}

/// Seed offset of the unreported pauses' times, so adding them leaves the rest of the
/// series as it was.
const NOISE_SEED: u64 = 0x6E01_5E00;

/// Hold every request in flight at `p` or arriving before `p + pause_us` until the pause
/// ends (stop-the-world).
fn stop_the_world(reqs: &mut [RequestRecord], p: u64, pause_us: u64) {
    let pend = p + pause_us;
    // Requests in flight at p or arriving during the pause end after it.
    let lo = reqs.partition_point(|r| r.start_us + 1_000_000 < p);
    for r in reqs[lo..].iter_mut() {
        if r.start_us > pend {
            break;
        }
        let lat = u64::from(r.latency_us);
        // In flight: its work stalls for the pause. Arriving during it: waits it out.
        let held = if r.start_us < p {
            if r.start_us + lat < p {
                continue;
            }
            lat + pause_us
        } else {
            pend - r.start_us + lat
        };
        r.latency_us = held.min(u64::from(u32::MAX)) as u32;
    }
}

/// Delay the requests arriving while a pause leaves `capacity` of the server to them (a
/// fluid queue): work piles up at `utilisation − capacity` during the pause and drains at
/// `1 − utilisation` after it; a request waits for the work ahead of it, served at
/// `capacity` until the pause ends and at full speed after.
fn partial_pause(
    reqs: &mut [RequestRecord],
    p: u64,
    pause_us: u64,
    capacity: f64,
    utilisation: f64,
) {
    let (c, rho, d) = (
        capacity.clamp(0.01, 1.0),
        utilisation.clamp(0.0, 0.99),
        pause_us as f64,
    );
    if rho <= c {
        return;
    }
    let peak_work = (rho - c) * d;
    let until = d + peak_work / (1.0 - rho);
    let lo = reqs.partition_point(|r| r.start_us < p);
    for r in reqs[lo..].iter_mut() {
        let tau = (r.start_us - p) as f64;
        if tau > until {
            break;
        }
        let delay = if tau < d {
            let work = (rho - c) * tau;
            let left = d - tau;
            if work <= c * left {
                work / c
            } else {
                left + (work - c * left)
            }
        } else {
            (peak_work - (1.0 - rho) * (tau - d)).max(0.0)
        };
        let held = u64::from(r.latency_us) + delay as u64;
        r.latency_us = held.min(u64::from(u32::MAX)) as u32;
    }
}

/// Generate the series: requests arrive at each segment's rate (with jitter), latencies
/// are log-normal; a scheduled pause holds the requests as [`SeriesPlan::pause_capacity`]
/// says and is reported as an event; unreported pauses at random times stop the world.
pub fn series(plan: &SeriesPlan) -> (Vec<RequestRecord>, Vec<ServerEvent>, Vec<StepSummary>) {
    let mut rng = SplitMix64::new(plan.seed);
    let mut reqs: Vec<RequestRecord> = Vec::new();
    let mut segs: Vec<(usize, usize, u64, u64)> = Vec::new();
    let mut t = 0.0f64;
    for (si, &(conc, rps, secs)) in plan.segments.iter().enumerate() {
        let start_us = t as u64;
        let end = t + secs * 1e6;
        let gap = 1e6 / rps.max(1e-3);
        let base = if plan.little {
            f64::from(conc) / rps.max(1e-3) * 1e6
        } else {
            plan.base_us
        };
        let first = reqs.len();
        while t < end {
            let lat = base * (plan.sigma * rng.normal()).exp();
            reqs.push(RequestRecord {
                start_us: t as u64,
                latency_us: lat.max(1.0) as u32,
                status: 200,
                error: ErrorKind::None,
                step: si.min(255) as u8,
            });
            t += gap * (0.5 + rng.unit());
        }
        segs.push((first, reqs.len(), start_us, end as u64));
        t = end;
    }
    // Pause times.
    let mut pauses: Vec<(u64, Option<u64>)> = Vec::new();
    match plan.schedule {
        Schedule::None => {}
        Schedule::EveryRequests(n) if n > 0 => {
            let mut k = n;
            while (k as usize) < reqs.len() {
                pauses.push((reqs[k as usize].start_us, Some(k)));
                k += n;
            }
        }
        Schedule::EverySeconds(s) if s > 0.0 => {
            let mut p = s * 1e6;
            while p < t {
                pauses.push((p as u64, None));
                p += s * 1e6;
            }
        }
        _ => {}
    }
    let mut events = Vec::new();
    for (seq, &(p, idx)) in pauses.iter().enumerate() {
        if plan.pause_capacity <= 0.0 {
            stop_the_world(&mut reqs, p, plan.pause_us);
        } else {
            partial_pause(
                &mut reqs,
                p,
                plan.pause_us,
                plan.pause_capacity,
                plan.utilisation,
            );
        }
        if let Some(kind) = plan.event {
            events.push(ServerEvent {
                kind,
                seq: seq as u64 + 1,
                start_unix_ns: T0_NS + p * 1000,
                duration_ns: plan.pause_us * 1000,
                request_index: idx,
                service: "target-api".into(),
                attributes: BTreeMap::new(),
            });
        }
    }
    if !plan.noise_pauses.is_empty() {
        let mut noise_rng = SplitMix64::new(plan.seed ^ NOISE_SEED);
        let mut at: Vec<(u64, u64)> = plan
            .noise_pauses
            .iter()
            .flat_map(|&(n, len)| std::iter::repeat_n(len, n))
            .map(|len| (noise_rng.below(t.max(1.0) as u64), len))
            .collect();
        at.sort_unstable();
        for (p, len) in at {
            stop_the_world(&mut reqs, p, len);
        }
    }
    let steps = segs
        .iter()
        .enumerate()
        .map(|(si, &(a, b, start_us, end_us))| {
            let secs = (end_us - start_us) as f64 / 1e6;
            let mut lat: Vec<u64> = reqs[a..b].iter().map(|r| u64::from(r.latency_us)).collect();
            lat.sort_unstable();
            let q = |p: f64| {
                lat.get(((lat.len() as f64 - 1.0) * p) as usize)
                    .copied()
                    .unwrap_or(0)
            };
            let n = lat.len() as u64;
            let mean = lat.iter().sum::<u64>() as f64 / n.max(1) as f64;
            let rps = n as f64 / secs;
            StepSummary {
                index: si as u32,
                concurrency: Some(plan.segments[si].0),
                start_us,
                measure_start_us: start_us,
                end_us,
                requests: n,
                ok: n,
                rps,
                ok_rps: rps,
                latency: LatencySummary {
                    mean_us: mean,
                    min_us: q(0.0),
                    p50_us: q(0.5),
                    p90_us: q(0.9),
                    p95_us: q(0.95),
                    p99_us: q(0.99),
                    p999_us: q(0.999),
                    max_us: q(1.0),
                    ..Default::default()
                },
                n_eff: rps * mean / 1e6,
                status: [(200, n)].into_iter().collect(),
                client_cpu: 0.2,
                ..Default::default()
            }
        })
        .collect();
    (reqs, events, steps)
}

/// A run holding a generated series (closed loop, server samples at 30% CPU).
pub fn series_run(plan: &SeriesPlan) -> DiagnosisInput {
    let (reqs, events, steps) = series(plan);
    let mut input = DiagnosisInput::new(base_summary(false, steps));
    let end_s = input.summary.ended_unix_ns.saturating_sub(T0_NS) / 1_000_000_000;
    for s in 1..=end_s {
        input.processes.push(ProcessSample {
            t_unix_ns: T0_NS + s * 1_000_000_000,
            role: Role::Server,
            pid: 2,
            cpu_cores: 0.6,
            cpu_capacity: 2.0,
            cpu_util: 0.3,
            rss_bytes: 50 << 20,
            threads: 8,
            open_fds: 64,
            fd_limit: 1024,
            thread_cpu: Vec::new(),
            run_queue_wait: None,
        });
    }
    input.events = events;
    input.requests = RequestSource::Memory(reqs);
    input
}

/// Shards of a synthetic per-request log (see [`in_log_order`]).
pub const LOG_SHARDS: usize = 4;
/// Records a loadgen shard hands its log writer at a time.
pub const LOG_CHUNK: usize = 4096;

/// `reqs` in the order a loadgen writes them: dealt round-robin to `shards`, each shard's
/// records by completion and handed on [`LOG_CHUNK`] at a time, the chunks in the order
/// they filled: nearly, not exactly, in start order.
pub fn in_log_order(reqs: &[RequestRecord], shards: usize) -> Vec<RequestRecord> {
    let shards = shards.max(1);
    let done = |r: &RequestRecord| r.start_us + u64::from(r.latency_us);
    let mut chunks: Vec<&[RequestRecord]> = Vec::new();
    let mut per_shard: Vec<Vec<RequestRecord>> = (0..shards)
        .map(|s| reqs.iter().skip(s).step_by(shards).copied().collect())
        .collect();
    for s in &mut per_shard {
        s.sort_by_key(done);
    }
    for s in &per_shard {
        chunks.extend(s.chunks(LOG_CHUNK));
    }
    chunks.sort_by_key(|c| c.last().map(done));
    chunks.concat()
}

/// Write an input as a run directory (summary, samples, events, requests.bin), the
/// requests [`in_log_order`].
pub fn write_run(dir: &Path, input: &DiagnosisInput) -> Result<(), RecordError> {
    use satlab_record::fsio;
    let run = RunDir::new(dir);
    run.create().map_err(|e| RecordError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    fsio::write_json(&run.loadgen().summary(), &input.summary)?;
    fsio::write_jsonl(&run.process_samples(), &input.processes)?;
    fsio::write_jsonl(&run.kernel_samples(), &input.kernel)?;
    fsio::write_jsonl(&run.system_samples(), &input.system)?;
    fsio::write_jsonl(&run.events(), &input.events)?;
    if let RequestSource::Memory(v) = &input.requests {
        let mut w = satlab_record::RequestLogWriter::create(&run.loadgen().requests())?;
        for r in in_log_order(v, LOG_SHARDS) {
            w.write(&r)?;
        }
        w.finish()?;
    }
    Ok(())
}
