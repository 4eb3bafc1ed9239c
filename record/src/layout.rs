//! Paths inside a run directory.

use std::path::{Path, PathBuf};

/// A run directory and the paths of its files.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Wrap a directory path (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create the directory and its sub-directories.
    pub fn create(&self) -> std::io::Result<()> {
        for d in ["loadgen", "samples", "otlp"] {
            std::fs::create_dir_all(self.root.join(d))?;
        }
        Ok(())
    }

    /// `manifest.json`.
    pub fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
    /// `scenario.json`.
    pub fn scenario(&self) -> PathBuf {
        self.root.join("scenario.json")
    }
    /// The loadgen's part of the run: `loadgen/`, laid out as `loadgen --out` writes it.
    pub fn loadgen(&self) -> LoadgenFiles {
        LoadgenFiles::new(self.root.join("loadgen"))
    }
    /// `samples/processes.jsonl`.
    pub fn process_samples(&self) -> PathBuf {
        self.root.join("samples/processes.jsonl")
    }
    /// `samples/system.jsonl`.
    pub fn system_samples(&self) -> PathBuf {
        self.root.join("samples/system.jsonl")
    }
    /// `samples/kernel.jsonl`.
    pub fn kernel_samples(&self) -> PathBuf {
        self.root.join("samples/kernel.jsonl")
    }
    /// `otlp/events.jsonl`.
    pub fn events(&self) -> PathBuf {
        self.root.join("otlp/events.jsonl")
    }
    /// `otlp/metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("otlp/metrics.jsonl")
    }
    /// `otlp/spans.json`.
    pub fn spans(&self) -> PathBuf {
        self.root.join("otlp/spans.json")
    }
    /// `otlp/spans.jsonl`: the timing of each kept span.
    pub fn span_timings(&self) -> PathBuf {
        self.root.join("otlp/spans.jsonl")
    }
    /// `otlp/received.json`: the telemetry names each service sent.
    pub fn received(&self) -> PathBuf {
        self.root.join("otlp/received.json")
    }
    /// `logs/`: the children's stdout and stderr (`observer lab`).
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// `diagnosis.json`.
    pub fn diagnosis_json(&self) -> PathBuf {
        self.root.join("diagnosis.json")
    }
    /// `report.txt`.
    pub fn report_txt(&self) -> PathBuf {
        self.root.join("report.txt")
    }
    /// `report.html`.
    pub fn report_html(&self) -> PathBuf {
        self.root.join("report.html")
    }
}

/// The files of a loadgen record in one directory (`loadgen --out DIR`).
#[derive(Debug, Clone)]
pub struct LoadgenFiles {
    dir: PathBuf,
}

impl LoadgenFiles {
    /// The record in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LoadgenFiles { dir: dir.into() }
    }
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// `histograms.json`.
    pub fn histograms(&self) -> PathBuf {
        self.dir.join("histograms.json")
    }
    /// `seconds.jsonl`.
    pub fn seconds(&self) -> PathBuf {
        self.dir.join("seconds.jsonl")
    }
    /// `requests.bin`.
    pub fn requests(&self) -> PathBuf {
        self.dir.join("requests.bin")
    }
}
