//! Writing a run directory: the manifest (running → complete / interrupted), the scenario,
//! and the sample streams.
//!
//! Whole files are written atomically (temporary name, fsync, rename). Sample streams grow
//! while the run goes on, so they are appended under `NAME.part` and renamed when the run
//! ends: a crash leaves a `.part` file and a manifest saying `running`, never a file that
//! looks complete.

use crate::scenario::Scenario;
use satlab_record::fsio::{self, JsonlAppender};
use satlab_record::manifest::{Manifest, RunStatus};
use satlab_record::samples::{KernelSample, ProcessSample, SystemSample};
use satlab_record::{RecordError, RunDir};
use std::path::{Path, PathBuf};

/// Errors creating a run directory.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The directory already holds a run.
    #[error("{0} already holds a run (manifest.json exists): choose another --out or remove it")]
    Exists(PathBuf),
    /// A file could not be written.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// The host's online CPU count.
pub fn host_cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// A run directory being written.
#[derive(Debug)]
pub struct RunWriter {
    dir: RunDir,
    manifest: Manifest,
}

impl RunWriter {
    /// Create the directory and write `manifest.json` with status `running` (and
    /// `scenario.json` when a scenario is given).
    pub fn create(
        root: &Path,
        created_by: &str,
        scenario: Option<&Scenario>,
    ) -> Result<Self, RunDirError> {
        let dir = RunDir::new(root);
        if dir.manifest().exists() {
            return Err(RunDirError::Exists(root.to_path_buf()));
        }
        dir.create().map_err(|e| RecordError::Io {
            path: root.to_path_buf(),
            source: e,
        })?;
        let manifest = Manifest {
            schema: Manifest::SCHEMA.to_string(),
            created_by: created_by.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: scenario.map(|s| s.name.clone()),
            started_unix_ns: satlab_record::now_unix_ns(),
            ended_unix_ns: 0,
            status: RunStatus::Running,
            interrupt_reason: None,
            client_pid: None,
            server_pid: None,
            host_cpus: host_cpus(),
            network: None,
        };
        if let Some(s) = scenario {
            fsio::write_json(&dir.scenario(), s)?;
        }
        fsio::write_json(&dir.manifest(), &manifest)?;
        Ok(RunWriter { dir, manifest })
    }

    /// The directory's paths.
    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    /// The manifest as last written.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Record the sampled PIDs.
    pub fn set_pids(
        &mut self,
        client: Option<u32>,
        server: Option<u32>,
    ) -> Result<(), RecordError> {
        self.manifest.client_pid = client.or(self.manifest.client_pid);
        self.manifest.server_pid = server.or(self.manifest.server_pid);
        fsio::write_json(&self.dir.manifest(), &self.manifest)
    }

    /// Record where the lab's traffic ran (`private` or `host`).
    pub fn set_network(&mut self, network: &str) -> Result<(), RecordError> {
        self.manifest.network = Some(network.to_string());
        fsio::write_json(&self.dir.manifest(), &self.manifest)
    }

    /// Mark the run complete, or interrupted with a reason.
    pub fn finish(&mut self, interrupted: Option<String>) -> Result<(), RecordError> {
        self.manifest.ended_unix_ns = satlab_record::now_unix_ns();
        self.manifest.status = if interrupted.is_some() {
            RunStatus::Interrupted
        } else {
            RunStatus::Complete
        };
        self.manifest.interrupt_reason = interrupted;
        fsio::write_json(&self.dir.manifest(), &self.manifest)
    }
}

/// `path` + `.part`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// The three sample streams of a run.
pub struct SampleStreams {
    finals: [PathBuf; 3],
    processes: JsonlAppender,
    system: JsonlAppender,
    kernel: JsonlAppender,
}

impl std::fmt::Debug for SampleStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleStreams")
            .field("files", &self.finals)
            .finish()
    }
}

impl SampleStreams {
    /// Open `samples/*.jsonl.part` in `dir`.
    pub fn create(dir: &RunDir) -> Result<Self, RecordError> {
        let finals = [
            dir.process_samples(),
            dir.system_samples(),
            dir.kernel_samples(),
        ];
        Ok(SampleStreams {
            processes: JsonlAppender::create(&part_path(&finals[0]))?,
            system: JsonlAppender::create(&part_path(&finals[1]))?,
            kernel: JsonlAppender::create(&part_path(&finals[2]))?,
            finals,
        })
    }

    /// Append process samples.
    pub fn processes(&mut self, samples: &[ProcessSample]) -> Result<(), RecordError> {
        samples.iter().try_for_each(|s| self.processes.append(s))
    }

    /// Append a system sample.
    pub fn system(&mut self, s: &SystemSample) -> Result<(), RecordError> {
        self.system.append(s)
    }

    /// Append a kernel sample.
    pub fn kernel(&mut self, s: &KernelSample) -> Result<(), RecordError> {
        self.kernel.append(s)
    }

    /// Flush all three (so a reader of the `.part` files sees whole lines).
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.processes.flush()?;
        self.system.flush()?;
        self.kernel.flush()
    }

    /// Flush, fsync and rename each `.part` file to its final name.
    pub fn finish(mut self) -> Result<(), RecordError> {
        self.flush()?;
        drop((self.processes, self.system, self.kernel));
        for f in &self.finals {
            let part = part_path(f);
            if let Ok(file) = std::fs::File::open(&part) {
                let _ = file.sync_all();
            }
            std::fs::rename(&part, f).map_err(|e| RecordError::Io {
                path: f.clone(),
                source: e,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_record::samples::{Role, ThreadCpu};

    #[test]
    fn manifest_goes_running_then_interrupted_and_parts_are_renamed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("run");
        let mut w = RunWriter::create(&root, "observer lab", None).unwrap();
        let m: Manifest = fsio::read_json(&w.dir().manifest()).unwrap();
        assert_eq!(m.status, RunStatus::Running);
        assert_eq!(m.schema, Manifest::SCHEMA);
        let mut s = SampleStreams::create(w.dir()).unwrap();
        let sample = ProcessSample {
            t_unix_ns: 1,
            role: Role::Server,
            pid: 7,
            cpu_cores: 0.5,
            cpu_capacity: 1.0,
            cpu_util: 0.5,
            rss_bytes: 1,
            threads: 1,
            open_fds: 3,
            fd_limit: 1024,
            thread_cpu: vec![ThreadCpu {
                tid: 8,
                name: "tokio-runtime-w".into(),
                cpu_cores: 0.5,
            }],
            run_queue_wait: Some(0.25),
        };
        s.processes(std::slice::from_ref(&sample)).unwrap();
        s.flush().unwrap();
        assert!(part_path(&w.dir().process_samples()).exists());
        assert!(
            !w.dir().process_samples().exists(),
            "no final file before the end"
        );
        s.finish().unwrap();
        let back: Vec<ProcessSample> = fsio::read_jsonl(&w.dir().process_samples()).unwrap();
        assert_eq!(back, vec![sample]);
        w.set_pids(Some(1), Some(2)).unwrap();
        w.finish(Some("SIGINT".into())).unwrap();
        let m: Manifest = fsio::read_json(&w.dir().manifest()).unwrap();
        assert_eq!(m.status, RunStatus::Interrupted);
        assert_eq!(m.server_pid, Some(2));
        assert!(m.ended_unix_ns >= m.started_unix_ns);
        assert!(matches!(
            RunWriter::create(&root, "x", None),
            Err(RunDirError::Exists(_))
        ));
    }
}
