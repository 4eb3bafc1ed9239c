//! `observer lab`: run one scenario locally and leave a run directory.
//!
//! The lab starts its OTLP receiver, spawns target-api (waits for `/readyz`) and loadgen
//! as children with their OTLP pointed at it, samples both processes and the kernel
//! counters of the target's namespace, and stops everything when loadgen ends, on
//! Ctrl-C / SIGTERM, or when a child dies: children lead their own process groups and die
//! with the observer (`PR_SET_PDEATHSIG`), so none is left behind.

use crate::children::{self, ChildError};
use crate::kernel::KernelReader;
use crate::otlp::{self, ReceiverConfig, Store, StoreLimits};
use crate::progress::{Progress, Snapshot};
use crate::rundir::{RunDirError, RunWriter, SampleStreams};
use crate::sampler::{self, Sampler};
use crate::scenario::{Scenario, ScenarioError};
use satlab_record::RunDir;
use satlab_record::samples::Role;
use satlab_record::telemetry as tel;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of one lab run.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Scenario name or file.
    pub scenario: String,
    /// Run directory (default `runs/<scenario>-<timestamp>`).
    pub out: Option<PathBuf>,
    /// target-api program; default: this executable in its `target-api` role.
    pub target_bin: Option<PathBuf>,
    /// loadgen program; default: this executable in its `loadgen` role.
    pub loadgen_bin: Option<PathBuf>,
    /// Sampling rate, Hz.
    pub hz: f64,
    /// Longest the whole run may take before it is interrupted.
    pub max_duration: Duration,
    /// Longest to wait for target-api's `/readyz`.
    pub ready_timeout: Duration,
    /// How long each child gets to exit after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Longest to wait for the last OTLP exports after the target stopped.
    pub otlp_grace: Duration,
    /// Show progress on stderr.
    pub progress: bool,
    /// Which network the run uses.
    pub network: NetworkChoice,
}

/// Which network a lab run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NetworkChoice {
    /// A private network namespace when running as root (so the kernel's TCP counters
    /// count only the lab's sockets), the host's network otherwise.
    #[default]
    Auto,
    /// Always a private namespace (needs root).
    Private,
    /// The host's network: kernel counters are machine-wide and may include other traffic.
    /// Scenarios with `[netns]` cannot run this way.
    Host,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            scenario: "gc-spikes".into(),
            out: None,
            target_bin: None,
            loadgen_bin: None,
            hz: sampler::DEFAULT_HZ,
            max_duration: Duration::from_secs(600),
            ready_timeout: Duration::from_secs(20),
            stop_grace: Duration::from_secs(5),
            otlp_grace: Duration::from_secs(3),
            progress: true,
            network: NetworkChoice::Auto,
        }
    }
}

/// Errors that stop a lab run before it produced a run directory worth keeping.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The scenario could not be found or parsed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run directory could not be created or written.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// A file of the run could not be written.
    #[error(transparent)]
    Record(#[from] satlab_record::RecordError),
    /// The namespace could not be set up.
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    /// The OTLP receiver could not start.
    #[error(transparent)]
    Receiver(#[from] otlp::ReceiverError),
    /// A child could not be started.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// Sampling could not start.
    #[error(transparent)]
    Sampler(#[from] sampler::SamplerError),
    /// Something else in the environment.
    #[error("{0}")]
    Env(String),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// loadgen finished its plan.
    Complete,
    /// Ctrl-C or SIGTERM to the observer.
    Signal(&'static str),
    /// A child exited on its own before the plan ended, or could not get ready.
    ChildFailed(String),
    /// `--max-duration` passed.
    Timeout,
}

impl Ending {
    /// The manifest's interrupt reason (`None` when complete).
    pub fn reason(&self) -> Option<String> {
        match self {
            Ending::Complete => None,
            Ending::Signal(s) => Some(format!("{s} received")),
            Ending::ChildFailed(m) => Some(m.clone()),
            Ending::Timeout => Some("--max-duration reached".into()),
        }
    }

    /// The process exit code: 0 complete, 130 signal, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Ending::Complete => 0,
            Ending::Signal(_) => 130,
            _ => 1,
        }
    }
}

/// The result of a lab run.
#[derive(Debug, Clone)]
pub struct LabOutcome {
    /// The run directory.
    pub dir: PathBuf,
    /// How it ended.
    pub ending: Ending,
    /// Server events received over OTLP.
    pub events: usize,
    /// The tail of loadgen's output (its summary table).
    pub loadgen_tail: String,
}

/// Run a lab. Call from a single-threaded process (before any runtime starts): a
/// scenario with `[netns]` moves the whole process into a new network namespace first.
pub fn run(opts: &LabOptions) -> Result<LabOutcome, LabError> {
    let scenario = Scenario::find(&opts.scenario)?;
    sampler::period(opts.hz)?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let private = match (&scenario.netns, opts.network) {
        (Some(_), NetworkChoice::Host) => {
            return Err(LabError::Env(format!(
                "scenario {:?} needs its own network namespace ([netns]); drop --network host",
                scenario.name
            )));
        }
        (Some(ns), _) => {
            crate::netns::enter_private(&ns.sysctls)?;
            true
        }
        (None, NetworkChoice::Private) => {
            crate::netns::enter_private(&Default::default())?;
            true
        }
        (None, NetworkChoice::Auto) if root => {
            crate::netns::enter_private(&Default::default())?;
            true
        }
        (None, _) => false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::Env(format!("cannot start the async runtime: {e}")))?;
    let out = rt.block_on(run_async(opts, scenario, private));
    rt.shutdown_timeout(Duration::from_secs(1));
    out
}

/// `runs/<name>-<UTC timestamp>`.
pub fn default_out(name: &str) -> PathBuf {
    let secs = satlab_record::now_unix_ns() / 1_000_000_000;
    let (y, mo, d, h, mi, s) = civil(secs);
    PathBuf::from("runs").join(format!("{name}-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"))
}

/// Unix seconds → (year, month, day, hour, minute, second), UTC.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One plain HTTP/1.1 GET on loopback; returns the status code.
pub fn http_get_status(addr: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

fn command(bin: &Option<PathBuf>, role: &str) -> Result<Command, LabError> {
    match bin {
        Some(p) => Ok(Command::new(p)),
        None => {
            let me = std::env::current_exe()
                .map_err(|e| LabError::Env(format!("cannot find the observer executable: {e}")))?;
            let mut c = Command::new(me);
            c.arg(role);
            Ok(c)
        }
    }
}

fn log_file(dir: &RunDir, name: &str) -> Result<(Stdio, Stdio), LabError> {
    let logs = dir.logs();
    std::fs::create_dir_all(&logs)
        .map_err(|e| LabError::Env(format!("{}: {e}", logs.display())))?;
    let path = logs.join(name);
    let f = std::fs::File::create(&path)
        .map_err(|e| LabError::Env(format!("{}: {e}", path.display())))?;
    let f2 = f
        .try_clone()
        .map_err(|e| LabError::Env(format!("{}: {e}", path.display())))?;
    Ok((Stdio::from(f), Stdio::from(f2)))
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn otel_env(cmd: &mut Command, grpc: SocketAddr, service: &str) {
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{grpc}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "200")
        .env("OTEL_BSP_SCHEDULE_DELAY", "500")
        .env("OTEL_SERVICE_NAME", service);
}

fn describe(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

/// Shared between the sampling thread and the main loop.
#[derive(Debug, Default)]
struct Shared {
    snapshot: Snapshot,
    error: Option<String>,
}

fn sampling_thread(
    mut streams: SampleStreams,
    targets: Vec<(Role, u32)>,
    kernel_pid: u32,
    period: Duration,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
) -> Result<std::thread::JoinHandle<Result<(), satlab_record::RecordError>>, LabError> {
    let mut sampler = Sampler::new(&targets)?;
    let mut kernel = KernelReader::new(kernel_pid);
    let every_kernel = ((1.0 / period.as_secs_f64()).round() as u32).max(1);
    let h = std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || {
            let mut tick: u32 = 0;
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let (procs, system) = sampler.sample_records();
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
                    for p in procs.iter().map(|r| &r.sample) {
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

fn otlp_items(store: &Store) -> u64 {
    store.stats().received.values().sum()
}

async fn run_async(
    opts: &LabOptions,
    scenario: Scenario,
    private: bool,
) -> Result<LabOutcome, LabError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| LabError::Env(format!("cannot handle SIGINT: {e}")))?;
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| LabError::Env(format!("cannot handle SIGTERM: {e}")))?;

    let root = opts
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario.name));
    let mut writer = RunWriter::create(&root, "observer lab", Some(&scenario))?;
    writer.set_network(if private { "private" } else { "host" })?;
    let dir = writer.dir().clone();
    let store = Arc::new(Store::new(StoreLimits::default()));
    let loopback0: SocketAddr = ([127, 0, 0, 1], 0).into();
    let receiver = otlp::start(
        store.clone(),
        loopback0,
        loopback0,
        ReceiverConfig::default(),
    )
    .await?;
    let port = free_port().map_err(|e| LabError::Env(format!("no free loopback port: {e}")))?;
    let target_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let pin = scenario.pin.clone().unwrap_or_default();
    let mut progress = Progress::new(Progress::stderr_is_tty());
    let started = Instant::now();

    // target-api
    let mut tcmd = command(&opts.target_bin, "target-api")?;
    tcmd.arg("--listen")
        .arg(target_addr.to_string())
        .args(&scenario.target.args)
        .stdin(Stdio::null());
    let (o, e) = log_file(&dir, "target-api.log")?;
    tcmd.stdout(o).stderr(e);
    otel_env(&mut tcmd, receiver.grpc_addr, tel::SERVICE_TARGET);
    children::configure(&mut tcmd, pin.server.as_deref())?;
    let mut target = children::spawn(&mut tcmd)?;
    writer.set_pids(None, Some(target.id()))?;

    let mut loadgen: Option<Child> = None;
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let mut sampler_handle = None;
    let mut ending = None;

    // Wait for /readyz.
    let ready_deadline = Instant::now() + opts.ready_timeout;
    loop {
        if let Ok(Some(st)) = target.try_wait() {
            ending = Some(Ending::ChildFailed(format!(
                "target-api exited before it was ready ({}); see {}:\n{}",
                describe(st),
                dir.logs().join("target-api.log").display(),
                tail(&dir.logs().join("target-api.log"), 10)
            )));
            break;
        }
        let probe = tokio::task::spawn_blocking(move || {
            http_get_status(target_addr, "/readyz", Duration::from_millis(500))
        })
        .await
        .ok()
        .flatten();
        if probe == Some(200) {
            break;
        }
        if Instant::now() >= ready_deadline {
            ending = Some(Ending::ChildFailed(format!(
                "target-api was not ready on http://{target_addr}/readyz within {:?}; see {}",
                opts.ready_timeout,
                dir.logs().join("target-api.log").display()
            )));
            break;
        }
        tokio::select! {
            _ = sigint.recv() => { ending = Some(Ending::Signal("SIGINT")); break; }
            _ = sigterm.recv() => { ending = Some(Ending::Signal("SIGTERM")); break; }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }

    if ending.is_none() {
        // loadgen, then sampling. A failure here still stops the target and writes the run.
        let started_load = (|| -> Result<_, LabError> {
            let mut lcmd = command(&opts.loadgen_bin, "loadgen")?;
            lcmd.arg(format!("http://{target_addr}/api/vector/add"))
                .arg("--out")
                .arg(dir.loadgen().dir())
                .args(&scenario.load.args)
                .stdin(Stdio::null());
            let (o, e) = log_file(&dir, "loadgen.log")?;
            lcmd.stdout(o).stderr(e);
            otel_env(&mut lcmd, receiver.grpc_addr, tel::SERVICE_LOADGEN);
            children::configure(&mut lcmd, pin.client.as_deref())?;
            let mut lg = children::spawn(&mut lcmd)?;
            let targets = vec![(Role::Client, lg.id()), (Role::Server, target.id())];
            let sampling = SampleStreams::create(&dir)
                .map_err(LabError::from)
                .and_then(|streams| {
                    sampling_thread(
                        streams,
                        targets,
                        target.id(),
                        sampler::period(opts.hz)?,
                        stop.clone(),
                        shared.clone(),
                    )
                });
            match sampling {
                Ok(h) => Ok((lg, h)),
                Err(e) => {
                    children::stop(&mut lg, opts.stop_grace);
                    Err(e)
                }
            }
        })();
        match started_load {
            Ok((lg, h)) => {
                writer.set_pids(Some(lg.id()), None)?;
                loadgen = Some(lg);
                sampler_handle = Some(h);
            }
            Err(e) => ending = Some(Ending::ChildFailed(format!("cannot start the load: {e}"))),
        }
    }

    // Run until loadgen ends, a child dies, a signal, or the deadline.
    while ending.is_none() {
        let Some(lg) = loadgen.as_mut() else { break };
        if let Ok(Some(st)) = lg.try_wait() {
            ending = Some(if st.success() {
                Ending::Complete
            } else {
                Ending::ChildFailed(format!(
                    "loadgen ended with {}; see {}",
                    describe(st),
                    dir.logs().join("loadgen.log").display()
                ))
            });
            break;
        }
        if let Ok(Some(st)) = target.try_wait() {
            ending = Some(Ending::ChildFailed(format!(
                "target-api died during the run ({}); see {}",
                describe(st),
                dir.logs().join("target-api.log").display()
            )));
            break;
        }
        if started.elapsed() >= opts.max_duration {
            ending = Some(Ending::Timeout);
            break;
        }
        if opts.progress {
            let mut snap = shared
                .lock()
                .map(|g| g.snapshot.clone())
                .unwrap_or_default();
            snap.otlp_items = otlp_items(&store);
            snap.events = store.stats().events.values().sum();
            progress.tick(&snap);
        }
        tokio::select! {
            _ = sigint.recv() => { ending = Some(Ending::Signal("SIGINT")); }
            _ = sigterm.recv() => { ending = Some(Ending::Signal("SIGTERM")); }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    progress.done();
    let ending = ending.unwrap_or(Ending::Complete);

    // Stop loadgen first (SIGTERM lets it write its record), then the target.
    if let Some(lg) = loadgen.as_mut() {
        children::stop(lg, opts.stop_grace);
    }
    children::stop(&mut target, opts.stop_grace);

    // Wait for the last exports: until nothing new arrives for a moment, bounded.
    let grace_end = Instant::now() + opts.otlp_grace;
    let mut last = otlp_items(&store);
    let mut quiet_since = Instant::now();
    while Instant::now() < grace_end && !matches!(ending, Ending::Signal(_)) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = otlp_items(&store);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(400) {
            break;
        }
    }

    stop.store(true, Ordering::Relaxed);
    let mut write_error = None;
    if let Some(h) = sampler_handle {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => write_error = Some(e.to_string()),
            Err(_) => write_error = Some("the sampling thread panicked".into()),
        }
    }
    receiver.shutdown().await;
    store.write_to(&dir, None)?;
    let mut reason = ending.reason();
    if let Some(e) = write_error {
        reason = Some(match reason {
            Some(r) => format!("{r}; samples: {e}"),
            None => format!("samples: {e}"),
        });
    }
    writer.finish(reason)?;
    Ok(LabOutcome {
        dir: root,
        ending,
        events: store.events().len(),
        loadgen_tail: tail(&dir.logs().join("loadgen.log"), 20),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn endings_map_to_exit_codes() {
        assert_eq!(Ending::Complete.exit_code(), 0);
        assert_eq!(Ending::Complete.reason(), None);
        assert_eq!(Ending::Signal("SIGINT").exit_code(), 130);
        assert_eq!(Ending::Timeout.exit_code(), 1);
        assert!(
            Ending::ChildFailed("x".into())
                .reason()
                .unwrap()
                .contains('x')
        );
    }

    #[test]
    fn readyz_probe_reads_the_status() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 256];
            let _ = s.read(&mut b);
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(
            http_get_status(addr, "/readyz", Duration::from_secs(2)),
            Some(503)
        );
        h.join().unwrap();
        let port = free_port().unwrap();
        assert_eq!(
            http_get_status(
                ([127, 0, 0, 1], port).into(),
                "/readyz",
                Duration::from_millis(200)
            ),
            None
        );
    }
}
