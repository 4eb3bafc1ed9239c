//! What a diagnosis reads: in memory for tests, or loaded from a run directory.

use crate::error::DiagnosisError;
use crate::latency::RecordedHistograms;
use satlab_record::distributed::DistributedRecord;
use satlab_record::events::SpanSummary;
use satlab_record::fsio;
use satlab_record::histogram::HistogramsFile;
use satlab_record::manifest::Manifest;
use satlab_record::samples::{KernelSample, ProcessSample, SystemSample};
use satlab_record::series::SecondSample;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{
    MetricPoint, RequestLogReader, RequestRecord, RunDir, ServerEvent, SpanTiming,
};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Where the per-request log comes from.
#[derive(Debug, Clone, Default)]
pub enum RequestSource {
    /// No per-request log: spikes cannot be analysed (nor latency modes, without
    /// `histograms.json`).
    #[default]
    None,
    /// Records in memory (tests, synthetic runs).
    Memory(Vec<RequestRecord>),
    /// A `requests.bin` file, streamed.
    File(PathBuf),
}

/// Everything a diagnosis reads.
#[derive(Debug, Clone)]
pub struct DiagnosisInput {
    /// `loadgen/summary.json`.
    pub summary: LoadgenSummary,
    /// `loadgen/seconds.jsonl`.
    pub seconds: Vec<SecondSample>,
    /// `samples/processes.jsonl`.
    pub processes: Vec<ProcessSample>,
    /// `samples/kernel.jsonl`.
    pub kernel: Vec<KernelSample>,
    /// `samples/system.jsonl`: machine-wide CPU.
    pub system: Vec<SystemSample>,
    /// `otlp/events.jsonl`.
    pub events: Vec<ServerEvent>,
    /// `otlp/metrics.jsonl`: the selected metric points.
    pub metrics: Vec<MetricPoint>,
    /// `otlp/spans.jsonl`: the kept spans' timing.
    pub spans: Vec<SpanTiming>,
    /// `otlp/spans.json`: span counts and what the span store kept.
    pub span_summary: Option<SpanSummary>,
    /// `loadgen/requests.bin`.
    pub requests: RequestSource,
    /// `loadgen/histograms.json`, when present: per-step percentiles and the run-wide
    /// histogram come from it (else from the summary and the per-request log).
    pub histograms: Option<RecordedHistograms>,
    /// `manifest.json`, when present.
    pub manifest: Option<Manifest>,
    /// `loadgen/distributed.json`: the run was several loadgens' records merged.
    pub distributed: Option<DistributedRecord>,
    /// Limitations found while loading (a torn last line, a missing file).
    pub notes: Vec<String>,
}

impl DiagnosisInput {
    /// An input with only the loadgen summary.
    pub fn new(summary: LoadgenSummary) -> Self {
        DiagnosisInput {
            summary,
            seconds: Vec::new(),
            processes: Vec::new(),
            kernel: Vec::new(),
            system: Vec::new(),
            events: Vec::new(),
            metrics: Vec::new(),
            spans: Vec::new(),
            span_summary: None,
            requests: RequestSource::None,
            histograms: None,
            manifest: None,
            distributed: None,
            notes: Vec::new(),
        }
    }

    /// The per-request log, read a chunk at a time.
    pub(crate) fn request_chunks(&self) -> Result<RequestChunks<'_>, DiagnosisError> {
        Ok(match &self.requests {
            RequestSource::None => RequestChunks::Memory(&[]),
            RequestSource::Memory(v) => RequestChunks::Memory(v),
            RequestSource::File(p) => RequestChunks::File(RequestLogReader::open(p)?),
        })
    }
}

/// The per-request log read a chunk at a time, from memory or from `requests.bin`.
pub(crate) enum RequestChunks<'a> {
    /// The records not read yet.
    Memory(&'a [RequestRecord]),
    File(RequestLogReader),
}

impl RequestChunks<'_> {
    /// Replace `out`'s contents with the next (up to) `max` records; empty at the end.
    pub fn fill(&mut self, out: &mut Vec<RequestRecord>, max: usize) -> Result<(), DiagnosisError> {
        match self {
            RequestChunks::Memory(rest) => {
                let (now, later) = rest.split_at(max.min(rest.len()));
                out.clear();
                out.extend_from_slice(now);
                *rest = later;
                Ok(())
            }
            RequestChunks::File(r) => Ok(r.read_chunk(out, max)?),
        }
    }
}

/// Load a run directory. Only `loadgen/summary.json` is required; every other file may be
/// missing or empty (a note says so). A malformed file is an error naming it and the line.
pub fn load_dir(dir: &Path) -> Result<DiagnosisInput, DiagnosisError> {
    if !dir.is_dir() {
        return Err(DiagnosisError::NotARunDir {
            path: dir.to_path_buf(),
            why: "no such directory".into(),
        });
    }
    let run = RunDir::new(dir);
    let lg = run.loadgen();
    let summary_path = lg.summary();
    if !summary_path.is_file() {
        return Err(DiagnosisError::NotARunDir {
            path: dir.to_path_buf(),
            why: format!(
                "{} is missing (a run directory holds the loadgen record under loadgen/)",
                summary_path.display()
            ),
        });
    }
    let summary: LoadgenSummary = fsio::read_json(&summary_path)?;
    let mut input = DiagnosisInput::new(summary);
    input.seconds = read_lines(&lg.seconds(), &mut input.notes)?;
    input.processes = read_lines(&run.process_samples(), &mut input.notes)?;
    input.kernel = read_lines(&run.kernel_samples(), &mut input.notes)?;
    input.system = read_lines(&run.system_samples(), &mut input.notes)?;
    input.events = read_lines(&run.events(), &mut input.notes)?;
    input.metrics = read_lines(&run.metrics(), &mut input.notes)?;
    input.spans = read_lines(&run.span_timings(), &mut input.notes)?;
    if run.spans().is_file() {
        input.span_summary = Some(fsio::read_json(&run.spans())?);
    }
    let hp = lg.histograms();
    if hp.is_file() {
        let file: HistogramsFile = fsio::read_json(&hp)?;
        input.histograms = Some(RecordedHistograms::decode(&file, &hp)?);
    }
    let req = lg.requests();
    input.requests = if req.is_file() {
        RequestSource::File(req)
    } else {
        input.notes.push(
            if input.histograms.is_some() {
                "loadgen/requests.bin is missing: no spike analysis"
            } else {
                "loadgen/requests.bin is missing: no spike or latency-mode analysis"
            }
            .into(),
        );
        RequestSource::None
    };
    let mp = run.manifest();
    if mp.is_file() {
        input.manifest = Some(fsio::read_json(&mp)?);
    }
    let dp = lg.dir().join("distributed.json");
    if dp.is_file() {
        let d: DistributedRecord = fsio::read_json(&dp)?;
        input.notes.extend(distributed_notes(&d));
        input.distributed = Some(d);
    }
    Ok(input)
}

/// What a merged run must say: which loadgens are missing, and how the parts line up.
fn distributed_notes(d: &DistributedRecord) -> Vec<String> {
    let merged = d.parts.iter().filter(|p| p.merged).count();
    let mut notes: Vec<String> = d
        .missing()
        .map(|p| {
            format!(
                "loadgen {} is missing ({}): the run holds the other {merged} of {} loadgens' \
                 requests, and its share of the load is not in it",
                p.loadgen,
                p.missing.as_deref().unwrap_or("no record"),
                d.ran
            )
        })
        .collect();
    if d.ran < d.planned {
        notes.push(format!(
            "{} of {} planned loadgens joined; the plan was split among them",
            d.ran, d.planned
        ));
    }
    notes.push(format!(
        "{merged} loadgens merged (first sends within {:.1} ms of each other); {}",
        d.start_skew_ms, d.clock
    ));
    notes
}

/// Read a JSON-lines file by the record's one rule (a missing file is empty); a torn last
/// line becomes a note.
fn read_lines<T: DeserializeOwned>(
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<T>, DiagnosisError> {
    let lines = fsio::read_jsonl_lines(path)?;
    if let Some(no) = lines.torn_line {
        notes.push(format!(
            "{}: line {no} is incomplete (the writer stopped mid-line); ignored",
            path.display()
        ));
    }
    Ok(lines.items)
}
