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
use satlab_record::summary::{LagSummary, LatencySummary, LoadgenSummary, StepSummary};
use satlab_record::{RecordError, RequestLogReader, RequestLogWriter, RequestRecord, fsio};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::Path;

/// Records read from each part's log at a time.
const CHUNK: usize = 1 << 14;
/// Seconds kept open while the merged log streams by (in send order): a completion more
/// than this behind the stream's send time is left out of its second's percentiles.
const OPEN_SECONDS: u64 = 60;

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
    histograms: HistogramsFile,
    seconds: Vec<SecondSample>,
    /// Its zero on the merged time base, µs.
    offset_us: u64,
}

impl Part {
    fn read(id: u32, dir: &Path) -> Result<Part, RecordError> {
        let files = LoadgenFiles::new(dir);
        Ok(Part {
            id,
            summary: fsio::read_json(&files.summary())?,
            histograms: fsio::read_json(&files.histograms())?,
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

/// Merge the parts under `parts_dir/<id>/` named in `record` (those with a record) into
/// `out`, and fill in what each part contributed. Parts without a record are marked missing.
pub fn merge(
    parts_dir: &Path,
    out: &LoadgenFiles,
    record: &mut DistributedRecord,
) -> Result<LoadgenSummary, MergeError> {
    let mut parts = Vec::new();
    for p in &mut record.parts {
        let dir = parts_dir.join(p.loadgen.to_string());
        if dir.join("summary.json").is_file() {
            parts.push(Part::read(p.loadgen, &dir)?);
        } else {
            p.merged = false;
            p.missing
                .get_or_insert_with(|| "it uploaded no record (never ran, or failed)".into());
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
    let (steps, first_id) = (parts[0].summary.steps.len(), parts[0].id);
    for p in &mut parts {
        p.offset_us = (p.summary.started_unix_ns - t0) / 1000;
        if p.summary.steps.len() != steps {
            return Err(MergeError::Mismatch(format!(
                "loadgen {} ran {} steps and loadgen {} ran {steps}",
                p.id,
                p.summary.steps.len(),
                first_id
            )));
        }
    }
    std::fs::create_dir_all(out.dir()).map_err(|source| RecordError::Io {
        path: out.dir().to_path_buf(),
        source,
    })?;
    let (logged, late) = merge_logs(&parts, out)?;
    let seconds = merge_seconds(&parts, &late);
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
            let w = &each[0].1;
            let window_s = w.end_us.saturating_sub(w.measure_start_us) as f64 / 1e6;
            merge_step(&each, &step_hists[i], window_s)
        })
        .collect();
    let measured_s: f64 = parts[0]
        .summary
        .steps
        .iter()
        .map(|w| w.end_us.saturating_sub(w.measure_start_us) as f64 / 1e6)
        .sum();
    let overall_each: Vec<(&Part, &StepSummary)> =
        parts.iter().map(|p| (p, &p.summary.overall)).collect();
    let overall = merge_step(&overall_each, &overall_h, measured_s);

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
    for p in &parts {
        let first_send = first_send_us(&p.files.requests())?;
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

/// The earliest send in a request log, µs since its loadgen's start.
fn first_send_us(path: &Path) -> Result<Option<u64>, RecordError> {
    if !path.is_file() {
        return Ok(None);
    }
    let mut first: Option<u64> = None;
    for r in RequestLogReader::open(path)? {
        let r = r?;
        first = Some(first.map_or(r.start_us, |f| f.min(r.start_us)));
    }
    Ok(first)
}

/// One step merged: sums of counts, the latency of the added histogram, rates over the
/// common window, and the busiest loadgen's CPU and scheduler lag.
/// `window_s` is the measured time the counts cover (a step's window; the sum of the steps'
/// for the whole run, as loadgen counts it).
fn merge_step(each: &[(&Part, &StepSummary)], h: &Histogram<u64>, window_s: f64) -> StepSummary {
    let first = each[0].1;
    let requests: u64 = each.iter().map(|(_, s)| s.requests).sum();
    let ok: u64 = each.iter().map(|(_, s)| s.ok).sum();
    let rate = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
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
            .map(|(p, s)| s.start_us + p.offset_us)
            .min()
            .unwrap_or(0),
        measure_start_us: each
            .iter()
            .map(|(p, s)| s.measure_start_us + p.offset_us)
            .min()
            .unwrap_or(0),
        end_us: each
            .iter()
            .map(|(p, s)| s.end_us + p.offset_us)
            .max()
            .unwrap_or(0),
        requests,
        ok,
        rps: rate(requests),
        ok_rps: rate(ok),
        n_eff: rate(requests) * latency.mean_us / 1e6,
        latency,
        errors,
        status,
        dropped: each.iter().map(|(_, s)| s.dropped).sum(),
        late: each.iter().map(|(_, s)| s.late).sum(),
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

fn figures(h: &Histogram<u64>) -> [u64; 3] {
    [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()]
}

/// Merge the parts' logs by send time on the common zero into `out`'s `requests.bin`;
/// returns the records written and each second's latency histogram.
fn merge_logs(parts: &[Part], out: &LoadgenFiles) -> Result<(u64, SecondFigures), RecordError> {
    struct Source {
        reader: RequestLogReader,
        buf: Vec<RequestRecord>,
        at: usize,
        offset_us: u64,
    }
    let mut sources = Vec::new();
    for p in parts {
        let path = p.files.requests();
        if !path.is_file() {
            continue;
        }
        let mut reader = RequestLogReader::open(&path)?;
        let mut buf = Vec::new();
        reader.read_chunk(&mut buf, CHUNK)?;
        sources.push(Source {
            reader,
            buf,
            at: 0,
            offset_us: p.offset_us,
        });
    }
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = sources
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.buf.is_empty())
        .map(|(i, s)| Reverse((s.buf[0].start_us + s.offset_us, i)))
        .collect();
    let mut writer = RequestLogWriter::create(&out.requests())?;
    let mut seconds: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    let mut closed = SecondFigures::new();
    while let Some(Reverse((start, i))) = heap.pop() {
        let s = &mut sources[i];
        let r = RequestRecord {
            start_us: start,
            ..s.buf[s.at]
        };
        writer.write(&r)?;
        let done_s = (start + u64::from(r.latency_us)) / 1_000_000;
        if !closed.contains_key(&done_s) {
            histogram::record_clamped(
                seconds
                    .entry(done_s)
                    .or_insert_with(histogram::new_latency_histogram),
                u64::from(r.latency_us),
            );
        }
        // Seconds far behind the stream can take no more completions: keep them closed.
        let horizon = (start / 1_000_000).saturating_sub(OPEN_SECONDS);
        while let Some((&t, _)) = seconds.first_key_value() {
            if t >= horizon {
                break;
            }
            let (t, h) = seconds.pop_first().expect("a first entry");
            closed.insert(t, figures(&h));
        }
        s.at += 1;
        if s.at == s.buf.len() {
            s.reader.read_chunk(&mut s.buf, CHUNK)?;
            s.at = 0;
        }
        if s.at < s.buf.len() {
            heap.push(Reverse((s.buf[s.at].start_us + s.offset_us, i)));
        }
    }
    let n = writer.finish()?;
    for (t, h) in seconds {
        closed.insert(t, figures(&h));
    }
    Ok((n, closed))
}

/// The parts' seconds summed on the common time base, with each second's percentiles taken
/// from the merged log.
fn merge_seconds(parts: &[Part], figures: &SecondFigures) -> Vec<SecondSample> {
    let mut out: BTreeMap<u32, SecondSample> = BTreeMap::new();
    for p in parts {
        let shift = ((p.offset_us + 500_000) / 1_000_000) as u32;
        for s in &p.seconds {
            let t = s.t_s + shift;
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
