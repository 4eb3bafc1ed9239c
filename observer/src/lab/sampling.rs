//! The sampling thread of a run: both children's processes and the system at the sampling
//! rate, the target namespace's kernel counters once a second, each written as it is
//! taken, with a snapshot kept for the progress line.

use crate::error::LabError;
use crate::kernel::KernelReader;
use crate::progress::Snapshot;
use crate::rundir::SampleStreams;
use crate::sampler::{self, Sampled, Sampler};
use satlab_record::RunDir;
use satlab_record::samples::Role;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shared between the sampling thread and the run loop.
#[derive(Debug, Default)]
struct Shared {
    snapshot: Snapshot,
    error: Option<String>,
}

/// A running sampling thread.
#[derive(Debug)]
pub struct Sampling {
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    handle: JoinHandle<Result<(), satlab_record::RecordError>>,
}

impl Sampling {
    /// Open the sample streams of `dir` and start sampling `targets` (role, PID, how) at `hz`,
    /// and the kernel counters of `kernel_pid`'s namespace.
    pub fn start(
        dir: &RunDir,
        targets: Vec<(Role, u32, Sampled)>,
        kernel_pid: u32,
        hz: f64,
    ) -> Result<Self, LabError> {
        let streams = SampleStreams::create(dir)?;
        let period = sampler::period(hz)?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handle = spawn(
            streams,
            targets,
            kernel_pid,
            period,
            stop.clone(),
            shared.clone(),
        )?;
        Ok(Sampling {
            stop,
            shared,
            handle,
        })
    }

    /// What the progress line shows, as last sampled.
    pub fn snapshot(&self) -> Snapshot {
        self.shared
            .lock()
            .map(|g| g.snapshot.clone())
            .unwrap_or_default()
    }

    /// Stop and join the thread; the error that ended its writing, if any.
    pub fn finish(self) -> Option<String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the sampling thread panicked".into()),
        }
    }
}

fn spawn(
    mut streams: SampleStreams,
    targets: Vec<(Role, u32, Sampled)>,
    kernel_pid: u32,
    period: Duration,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
) -> Result<JoinHandle<Result<(), satlab_record::RecordError>>, LabError> {
    let mut sampler = Sampler::new(&targets)?;
    let mut kernel = KernelReader::new(kernel_pid);
    let every_kernel = ((1.0 / period.as_secs_f64()).round() as u32).max(1);
    let h = std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || {
            let mut tick: u32 = 0;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let (procs, system) = sampler.sample();
                streams.processes(&procs)?;
                streams.system(&system)?;
                let mut snap_k = None;
                if tick.is_multiple_of(every_kernel) {
                    match kernel.sample() {
                        Ok(Some(k)) => {
                            streams.kernel(&k)?;
                            snap_k = Some(k);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            if let Ok(mut g) = shared.lock() {
                                g.error.get_or_insert(e.to_string());
                            }
                        }
                    }
                    streams.flush()?;
                }
                if let Ok(mut g) = shared.lock() {
                    for p in &procs {
                        let v = Some((p.cpu_cores, p.cpu_capacity));
                        match p.role {
                            Role::Client => g.snapshot.client_cpu = v,
                            Role::Server => g.snapshot.server_cpu = v,
                            Role::Observer => {}
                        }
                    }
                    if let Some(k) = snap_k {
                        g.snapshot.estab = k.gauges.get("CurrEstab").copied();
                        g.snapshot.listen_overflows +=
                            k.deltas.get("ListenOverflows").copied().unwrap_or(0);
                    }
                }
                tick = tick.wrapping_add(1);
                next += period;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            streams.finish()
        })
        .map_err(|e| LabError::Env(format!("cannot start the sampling thread: {e}")))?;
    Ok(h)
}
