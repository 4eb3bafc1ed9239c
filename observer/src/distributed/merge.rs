//! The exact merge of a distributed run's loadgen records into one `loadgen/` record.
//!
//! Histograms are added (HdrHistogram addition is exact); counts, errors and statuses are
//! summed; the request logs are merged by send time on the earliest loadgen's zero, and each
//! second's percentiles are recomputed from the merged log, never averaged. Each loadgen's
//! own CPU and scheduler lag stay per loadgen in `distributed.json`; the merged step keeps
//! the busiest loadgen's, so a client-bound verdict still sees the generator that ran out.

use hdrhistogram::Histogram;
use satlab_record::distributed::{DistributedRecord, PartRecord};
use satlab_record::histogram::{self, HistogramsFile, StepHistogram};
use satlab_record::layout::LoadgenFiles;
use satlab_record::series::SecondSample;
use satlab_record::summary::{
    LagSummary, LatencySummary, LoadgenSummary, SendLateness, StepSummary,
};
use satlab_record::{RecordError, RequestLogReader, RequestLogWriter, RequestRecord, fsio};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;

/// Records read from each part's log at a time.
const CHUNK: usize = 1 << 14;

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No loadgen's record arrived.
    #[error("no loadgen uploaded a record: nothing to merge")]
    Empty,
    /// A record could not be read or written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Records that cannot be merged.
    #[error("{0}")]
    Mismatch(String),
}

/// One loadgen's record, read.
struct Part {
    id: u32,
    files: LoadgenFiles,
    summary: LoadgenSummary,
    /// Per step, encoded (decoded one step at a time: a part's decoded histograms are
    /// about 1 MiB, too much to hold for every part of a large run).
    histograms: HistogramsFile,
    seconds: Vec<SecondSample>,
    /// Its zero on the merged time base, µs.
    offset_us: u64,
}

impl Part {
    /// Read and check a part: every file parses, the log has its header.
    fn read(id: u32, dir: &Path) -> Result<Part, RecordError> {
        let files = LoadgenFiles::new(dir);
        let histograms: HistogramsFile = fsio::read_json(&files.histograms())?;
        for s in &histograms.steps {
            histogram::decode(&s.latency)?;
        }
        RequestLogReader::open(&files.requests())?;
        Ok(Part {
            id,
            summary: fsio::read_json(&files.summary())?,
            histograms,
            seconds: if files.seconds().is_file() {
                fsio::read_jsonl(&files.seconds())?
            } else {
                Vec::new()
            },
            files,
            offset_us: 0,
        })
    }

    fn step_histogram(&self, step: u32) -> Result<Option<Histogram<u64>>, RecordError> {
        self.histograms
            .steps
            .iter()
            .find(|s| s.step == step)
            .map(|s| histogram::decode(&s.latency))
            .transpose()
    }
}

/// Check an uploaded part before it is accepted: every file the merge reads parses.
pub fn check_part_files(dir: &Path) -> Result<(), String> {
    Part::read(0, dir).map(drop).map_err(|e| e.to_string())
}

/// Merge the parts under `parts_dir/<id>/` named in `record` (those with a record) into
/// `out`, and fill in what each part contributed. Parts without a record are marked missing.
pub fn merge(
    parts_dir: &Path,
    out: &LoadgenFiles,
    record: &mut DistributedRecord,
) -> Result<LoadgenSummary, MergeError> {
    let mut parts: Vec<Part> = Vec::new();
    for p in &mut record.parts {
        let dir = parts_dir.join(p.loadgen.to_string());
        p.merged = false;
        if !dir.join("summary.json").is_file() {
            p.missing = Some("it uploaded no record (never ran, or failed)".into());
            continue;
        }
        match Part::read(p.loadgen, &dir) {
            Ok(part) => match parts.first() {
                Some(first) if first.summary.steps.len() != part.summary.steps.len() => {
                    p.missing = Some(format!(
                        "its record has {} steps, loadgen {}'s {}",
                        part.summary.steps.len(),
                        first.id,
                        first.summary.steps.len()
                    ));
                }
                _ => parts.push(part),
            },
            Err(e) => p.missing = Some(format!("its record is unreadable: {e}")),
        }
    }
    if parts.is_empty() {
        return Err(MergeError::Empty);
    }
    let t0 = parts
        .iter()
        .map(|p| p.summary.started_unix_ns)
        .min()
        .unwrap_or(0);
    let steps = parts[0].summary.steps.len();
    for p in &mut parts {
        p.offset_us = (p.summary.started_unix_ns - t0) / 1000;
    }
    std::fs::create_dir_all(out.dir()).map_err(|source| RecordError::Io {
        path: out.dir().to_path_buf(),
        source,
    })?;
    let logged = merge_logs(&parts, out)?;
    let mut by_second = SecondHists::new();
    let mut first_sends = Vec::with_capacity(parts.len());
    for p in &parts {
        first_sends.push(scan_part(p, &mut by_second)?);
    }
    let figures: SecondFigures = by_second
        .iter()
        .map(|(t, h)| {
            (
                *t,
                [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()],
            )
        })
        .collect();
    drop(by_second);
    let seconds = merge_seconds(&parts, &figures);
    fsio::write_jsonl(&out.seconds(), seconds.iter())?;

    let mut step_hists = Vec::with_capacity(steps);
    for i in 0..steps {
        let mut h = histogram::new_latency_histogram();
        for p in &parts {
            if let Some(ph) = p.step_histogram(p.summary.steps[i].index)? {
                h.add(&ph)
                    .map_err(|e| MergeError::Mismatch(format!("histogram: {e:?}")))?;
            }
        }
        step_hists.push(h);
    }
    let mut overall_h = histogram::new_latency_histogram();
    for h in &step_hists {
        overall_h
            .add(h)
            .map_err(|e| MergeError::Mismatch(format!("histogram: {e:?}")))?;
    }
    let merged_steps: Vec<StepSummary> = (0..steps)
        .map(|i| {
            let each: Vec<(&Part, &StepSummary)> =
                parts.iter().map(|p| (p, &p.summary.steps[i])).collect();
            merge_step(&each, &step_hists[i])
        })
        .collect();
    let overall_each: Vec<(&Part, &StepSummary)> =
        parts.iter().map(|p| (p, &p.summary.overall)).collect();
    let overall = merge_step(&overall_each, &overall_h);

    let first = &parts[0].summary;
    let sum = |f: fn(&LoadgenSummary) -> u64| parts.iter().map(|p| f(&p.summary)).sum::<u64>();
    let missing = record
        .parts
        .iter()
        .filter(|p| p.missing.is_some())
        .map(|p| {
            format!(
                "loadgen {} is missing: {}",
                p.loadgen,
                p.missing.as_deref().unwrap_or_default()
            )
        });
    let interrupted: Vec<String> = missing
        .chain(parts.iter().filter(|p| p.summary.interrupted).map(|p| {
            format!(
                "loadgen {}: {}",
                p.id,
                p.summary
                    .interrupt_reason
                    .as_deref()
                    .unwrap_or("interrupted")
            )
        }))
        .collect();
    let summary = LoadgenSummary {
        pid: 0,
        plan: record.plan.clone(),
        started_unix_ns: t0,
        ended_unix_ns: parts
            .iter()
            .map(|p| p.summary.ended_unix_ns)
            .max()
            .unwrap_or(t0),
        interrupted: !interrupted.is_empty(),
        interrupt_reason: (!interrupted.is_empty()).then(|| interrupted.join("; ")),
        cpu_capacity: parts.iter().map(|p| p.summary.cpu_capacity).sum(),
        max_in_flight: first
            .max_in_flight
            .map(|_| parts.iter().filter_map(|p| p.summary.max_in_flight).sum()),
        request_log_records: logged,
        request_log_dropped: sum(|s| s.request_log_dropped),
        abandoned_in_flight: sum(|s| s.abandoned_in_flight),
        spans_dropped: sum(|s| s.spans_dropped),
        steps: merged_steps,
        overall,
        thresholds: Vec::new(),
        distributed: None,
        ..first.clone()
    };
    let hist_file = HistogramsFile {
        schema: HistogramsFile::SCHEMA.into(),
        unit: "us".into(),
        significant_digits: histogram::SIGFIG,
        steps: summary
            .steps
            .iter()
            .zip(&step_hists)
            .map(|(s, h)| {
                Ok(StepHistogram {
                    step: s.index,
                    latency: histogram::encode(h)?,
                })
            })
            .collect::<Result<_, RecordError>>()?,
        overall: histogram::encode(&overall_h)?,
    };
    fsio::write_json(&out.histograms(), &hist_file)?;
    fsio::write_json(&out.summary(), &summary)?;

    let mut skew: f64 = 0.0;
    for (p, first_send) in parts.iter().zip(first_sends) {
        let entry = record
            .parts
            .iter_mut()
            .find(|r| r.loadgen == p.id)
            .expect("a part of the record");
        entry.merged = true;
        entry.missing = None;
        entry.requests = p.summary.overall.requests;
        entry.client_cpu = p.summary.steps.iter().map(|s| s.client_cpu).collect();
        entry.sched_lag_p99_us = p.summary.steps.iter().map(|s| s.sched_lag.p99_us).collect();
        entry.first_send_ms = first_send.map(|us| {
            let at = p.summary.started_unix_ns as f64 + us as f64 * 1000.0;
            (at - record.start_unix_ns as f64) / 1e6
        });
    }
    let sends: Vec<f64> = record
        .parts
        .iter()
        .filter_map(|p| p.first_send_ms)
        .collect();
    if let (Some(lo), Some(hi)) = (
        sends.iter().copied().reduce(f64::min),
        sends.iter().copied().reduce(f64::max),
    ) {
        skew = hi - lo;
    }
    record.start_skew_ms = skew;
    Ok(summary)
}

/// One step merged: sums of counts and of each loadgen's rate (each over its own measured
/// window, which ends early for a loadgen that stopped early), the latency of the added
/// histogram, and the busiest loadgen's CPU and scheduler lag.
fn merge_step(each: &[(&Part, &StepSummary)], h: &Histogram<u64>) -> StepSummary {
    let first = each[0].1;
    let requests: u64 = each.iter().map(|(_, s)| s.requests).sum();
    let ok: u64 = each.iter().map(|(_, s)| s.ok).sum();
    let rps: f64 = each.iter().map(|(_, s)| s.rps).sum();
    let latency = LatencySummary::from_histogram(h);
    let mut errors = BTreeMap::new();
    let mut status = BTreeMap::new();
    for (_, s) in each {
        for (k, n) in &s.errors {
            *errors.entry(*k).or_insert(0) += n;
        }
        for (k, n) in &s.status {
            *status.entry(*k).or_insert(0) += n;
        }
    }
    let busiest = each
        .iter()
        .map(|(_, s)| s)
        .max_by(|a, b| a.client_cpu.total_cmp(&b.client_cpu))
        .expect("at least one part");
    StepSummary {
        index: first.index,
        concurrency: first
            .concurrency
            .map(|_| each.iter().filter_map(|(_, s)| s.concurrency).sum()),
        target_rate: first
            .target_rate
            .map(|_| each.iter().filter_map(|(_, s)| s.target_rate).sum()),
        start_us: each
            .iter()
            .map(|(p, s)| s.start_us.saturating_add(p.offset_us))
            .min()
            .unwrap_or(0),
        measure_start_us: each
            .iter()
            .map(|(p, s)| s.measure_start_us.saturating_add(p.offset_us))
            .min()
            .unwrap_or(0),
        end_us: each
            .iter()
            .map(|(p, s)| s.end_us.saturating_add(p.offset_us))
            .max()
            .unwrap_or(0),
        requests,
        ok,
        rps,
        ok_rps: each.iter().map(|(_, s)| s.ok_rps).sum(),
        n_eff: rps * latency.mean_us / 1e6,
        latency,
        errors,
        status,
        dropped: each.iter().map(|(_, s)| s.dropped).sum(),
        late: each.iter().map(|(_, s)| s.late).sum(),
        // Percentiles do not add: each the largest among the loadgens, an upper bound of
        // the merged run's.
        send_lateness: each
            .iter()
            .filter_map(|(_, s)| s.send_lateness)
            .reduce(|a, b| SendLateness {
                p50_us: a.p50_us.max(b.p50_us),
                p99_us: a.p99_us.max(b.p99_us),
                max_us: a.max_us.max(b.max_us),
            }),
        in_flight_mean: each.iter().map(|(_, s)| s.in_flight_mean).sum(),
        client_cpu: busiest.client_cpu,
        sched_lag: LagSummary {
            mean_us: each
                .iter()
                .map(|(_, s)| s.sched_lag.mean_us)
                .fold(0.0, f64::max),
            p99_us: each
                .iter()
                .map(|(_, s)| s.sched_lag.p99_us)
                .max()
                .unwrap_or(0),
            max_us: each
                .iter()
                .map(|(_, s)| s.sched_lag.max_us)
                .max()
                .unwrap_or(0),
        },
    }
}

/// Each completion second's p50, p99 and max latency in the merged log, µs.
type SecondFigures = BTreeMap<u64, [u64; 3]>;
/// Each completion second's latencies, at two significant digits (a second's figures need
/// no more; 13 KiB a second, so an hour's run costs at most 47 MiB).
type SecondHists = BTreeMap<u64, Histogram<u32>>;
/// The last completion second kept: the longest plan, and a minute to finish in.
const LAST_SECOND: u64 = loadgen::plan::MAX_TOTAL.as_secs() + 60;

/// Read one part's log: each request's latency into its completion second (on the common
/// time base), and its earliest send (µs since its own start).
fn scan_part(p: &Part, seconds: &mut SecondHists) -> Result<Option<u64>, RecordError> {
    let mut first: Option<u64> = None;
    let mut reader = RequestLogReader::open(&p.files.requests())?;
    let mut buf = Vec::new();
    loop {
        reader.read_chunk(&mut buf, CHUNK)?;
        if buf.is_empty() {
            return Ok(first);
        }
        for r in &buf {
            first = Some(first.map_or(r.start_us, |f| f.min(r.start_us)));
            let done_s = r
                .start_us
                .saturating_add(p.offset_us)
                .saturating_add(u64::from(r.latency_us))
                / 1_000_000;
            if done_s > LAST_SECOND {
                continue;
            }
            let h = seconds.entry(done_s).or_insert_with(|| {
                Histogram::new_with_bounds(1, histogram::MAX_TRACKABLE_US, 2)
                    .expect("valid static bounds")
            });
            h.saturating_record(u64::from(r.latency_us).clamp(1, histogram::MAX_TRACKABLE_US));
        }
    }
}

/// Merge the parts' logs by send time on the common zero into `out`'s `requests.bin` (a
/// k-way merge of each part's chunks; each part's own order is kept); returns the records
/// written.
fn merge_logs(parts: &[Part], out: &LoadgenFiles) -> Result<u64, RecordError> {
    struct Source {
        reader: RequestLogReader,
        buf: Vec<RequestRecord>,
        at: usize,
        offset_us: u64,
    }
    let mut sources = Vec::new();
    for p in parts {
        let mut reader = RequestLogReader::open(&p.files.requests())?;
        let mut buf = Vec::new();
        reader.read_chunk(&mut buf, CHUNK)?;
        sources.push(Source {
            reader,
            buf,
            at: 0,
            offset_us: p.offset_us,
        });
    }
    let key = |s: &Source| s.buf[s.at].start_us.saturating_add(s.offset_us);
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = sources
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.buf.is_empty())
        .map(|(i, s)| Reverse((key(s), i)))
        .collect();
    let mut writer = RequestLogWriter::create(&out.requests())?;
    while let Some(Reverse((start, i))) = heap.pop() {
        let s = &mut sources[i];
        writer.write(&RequestRecord {
            start_us: start,
            ..s.buf[s.at]
        })?;
        s.at += 1;
        if s.at == s.buf.len() {
            s.reader.read_chunk(&mut s.buf, CHUNK)?;
            s.at = 0;
        }
        if s.at < s.buf.len() {
            heap.push(Reverse((key(s), i)));
        }
    }
    writer.finish()
}

/// The parts' seconds summed on the common time base, with each second's percentiles taken
/// from the merged log.
fn merge_seconds(parts: &[Part], figures: &SecondFigures) -> Vec<SecondSample> {
    let mut out: BTreeMap<u32, SecondSample> = BTreeMap::new();
    for p in parts {
        let shift =
            u32::try_from(p.offset_us.saturating_add(500_000) / 1_000_000).unwrap_or(u32::MAX);
        for s in &p.seconds {
            let t = s.t_s.saturating_add(shift);
            let m = out.entry(t).or_insert_with(|| SecondSample {
                t_s: t,
                step: s.step,
                ..SecondSample::default()
            });
            m.requests += s.requests;
            m.ok += s.ok;
            for (k, n) in &s.errors {
                *m.errors.entry(*k).or_insert(0) += n;
            }
            m.in_flight += s.in_flight;
            m.cpu = m.cpu.max(s.cpu);
            m.sched_lag_max_us = m.sched_lag_max_us.max(s.sched_lag_max_us);
            m.dropped += s.dropped;
        }
    }
    for (t, m) in &mut out {
        if let Some([p50, p99, max]) = figures.get(&u64::from(*t)) {
            (m.p50_us, m.p99_us, m.max_us) = (*p50, *p99, *max);
        }
    }
    out.into_values().collect()
}

/// A fresh record for a run split among the loadgens `parts` (id, share spec), none merged
/// yet.
pub fn new_record(
    run: &str,
    plan: &str,
    planned: u32,
    start_unix_ns: u64,
    parts: &[(u32, String)],
) -> DistributedRecord {
    DistributedRecord {
        schema: DistributedRecord::SCHEMA.into(),
        run: run.into(),
        plan: plan.into(),
        planned,
        ran: parts.len() as u32,
        start_unix_ns,
        start_skew_ms: 0.0,
        clock: DistributedRecord::CLOCK.into(),
        parts: parts
            .iter()
            .map(|(k, spec)| PartRecord {
                loadgen: *k,
                spec: spec.clone(),
                merged: false,
                missing: None,
                first_send_ms: None,
                requests: 0,
                client_cpu: Vec::new(),
                sched_lag_p99_us: Vec::new(),
            })
            .collect(),
    }
}
