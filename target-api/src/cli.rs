//! The command line: flags (each also read from `SATLAB_TARGET_<FLAG>`), the runtime with
//! `--workers` threads, signals, and the exit code. `observer target-api ...` calls [`run`]
//! too, so it builds its own runtime instead of relying on `#[tokio::main]`.

use crate::config::{Config, Events, Profile, Settings};
use crate::count::parse_count;
use crate::server::{bind, serve};
use crate::telemetry::{Telemetry, TelemetryConfig};
use anyhow::Context as _;
use clap::Parser;
use satlab_common::duration::parse_duration;
use satlab_common::exit;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const ABOUT: &str = "The satlab sample service: POST /api/vector/add with selectable bottlenecks \
(CPU, I/O, downstream pool, sockets) and server events (stop-the-world pauses, pool recycling, \
CPU bursts, load shedding), instrumented with OpenTelemetry.";

const AFTER: &str = "\
API:
  POST /api/vector/add  {\"a\":[1,2,3],\"b\":[4,5,6]} -> {\"result\":[5,7,9]}; {\"a\":1,\"b\":2} -> {\"result\":3}
     per-request overrides: ?cpu=200us&cpu_iters=N&io=5ms&pool=1|0&pool_hold=2ms
     (caps: cpu 1s, cpu_iters 2e9, io/pool_hold 10s; above a cap: 422)
  GET /healthz, GET /readyz (503 while draining)
  GET|PUT /admin/config   active profile and events as JSON; PUT merges and validates (422)
  GET /admin/events?limit=N   recent server events
Durations: a number and a unit (ns, us, ms, s, m, h), or several in a row: 200us, 50ms,
2s, 1m30s; a bare 0 is zero. Every flag can also be set as SATLAB_TARGET_<FLAG>
(e.g. SATLAB_TARGET_PAUSE_EVERY=1000).

Telemetry (standard variables): OTEL_EXPORTER_OTLP_ENDPOINT (unset: no export),
OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT (per signal, used as given),
OTEL_EXPORTER_OTLP_PROTOCOL=grpc|http/protobuf, OTEL_SERVICE_NAME (else service.name in
OTEL_RESOURCE_ATTRIBUTES, else target-api), OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG,
OTEL_METRIC_EXPORT_INTERVAL (ms, 5000), OTEL_SDK_DISABLED=true.

Examples:
  target-api --listen 127.0.0.1:18080
  target-api --workers 2 --cpu-cost 200us                  # CPU-bound
  target-api --pool-size 8 --pool-hold 5ms                 # pool-bound
  target-api --pause-every 1000 --pause-duration 50ms      # a GC-like spike every 1000 requests
  target-api --burst-every 5s --burst-duration 300ms       # a cron job every 5 s
  target-api --shed-above 64 --shed-status 503             # load shedding
  target-api --backlog 8 --accept-delay 2ms                # slow accept, tiny listen queue
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 target-api";

fn count(s: &str) -> Result<u64, String> {
    parse_count(s)
}

fn positive_usize(s: &str) -> Result<usize, String> {
    match parse_count(s)? {
        0 => Err("must be at least 1".into()),
        n => usize::try_from(n).map_err(|_| "too large".to_string()),
    }
}

fn shed_status(s: &str) -> Result<u16, String> {
    match s.trim() {
        "429" => Ok(429),
        "503" => Ok(503),
        _ => Err(format!("'{s}' is not allowed: use 429 or 503")),
    }
}

fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an IP:PORT address, e.g. 127.0.0.1:8080"))
}

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "target-api", version, about = ABOUT, after_help = AFTER)]
pub struct Args {
    /// Address to listen on. A non-loopback address requires --admin-token.
    #[arg(long, env = "SATLAB_TARGET_LISTEN", default_value = "127.0.0.1:8080", value_parser = listen_addr)]
    pub listen: SocketAddr,
    /// Tokio worker threads [default: CPUs this process may use].
    #[arg(long, env = "SATLAB_TARGET_WORKERS", value_parser = positive_usize)]
    pub workers: Option<usize>,
    /// CPU cost per request: a compute loop that spins until the handling thread's own CPU
    /// clock has advanced by this much (CPU time, so the same on a busy machine).
    #[arg(long, env = "SATLAB_TARGET_CPU_COST", default_value = "0s", value_parser = parse_duration)]
    pub cpu_cost: Duration,
    /// CPU cost as compute-loop rounds (instead of --cpu-cost): the same work on any
    /// machine, its CPU time depending on the machine.
    #[arg(long, env = "SATLAB_TARGET_CPU_ITERATIONS", default_value = "0", value_parser = count)]
    pub cpu_iterations: u64,
    /// Awaited I/O delay per request (frees the worker while waiting).
    #[arg(long, env = "SATLAB_TARGET_IO_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub io_delay: Duration,
    /// Downstream pool size K: every request takes one of K permits (0 = no pool).
    #[arg(long, env = "SATLAB_TARGET_POOL_SIZE", default_value = "0", value_parser = count)]
    pub pool_size: u64,
    /// How long each request holds its pool permit.
    #[arg(long, env = "SATLAB_TARGET_POOL_HOLD", default_value = "0s", value_parser = parse_duration)]
    pub pool_hold: Duration,
    /// Stop-the-world pause on every Nth admitted request (N, 2N, ...; 0 = off).
    #[arg(long, env = "SATLAB_TARGET_PAUSE_EVERY", default_value = "0", value_parser = count)]
    pub pause_every: u64,
    /// Length of each pause: all request handling stalls, in flight and new.
    #[arg(long, env = "SATLAB_TARGET_PAUSE_DURATION", default_value = "0s", value_parser = parse_duration)]
    pub pause_duration: Duration,
    /// Recycle the pool on every Nth pool use (needs --pool-size; 0 = off).
    #[arg(long, env = "SATLAB_TARGET_RECYCLE_EVERY", default_value = "0", value_parser = count)]
    pub recycle_every: u64,
    /// Reconnect cost of a recycle: every permit is held this long.
    #[arg(long, env = "SATLAB_TARGET_RECYCLE_COST", default_value = "0s", value_parser = parse_duration)]
    pub recycle_cost: Duration,
    /// CPU burst period (a cron job in the process; 0 = off; at least 10ms).
    #[arg(long, env = "SATLAB_TARGET_BURST_EVERY", default_value = "0s", value_parser = parse_duration)]
    pub burst_every: Duration,
    /// CPU burst length (shorter than --burst-every).
    #[arg(long, env = "SATLAB_TARGET_BURST_DURATION", default_value = "0s", value_parser = parse_duration)]
    pub burst_duration: Duration,
    /// Shed requests when N are already in flight (0 = off).
    #[arg(long, env = "SATLAB_TARGET_SHED_ABOVE", default_value = "0", value_parser = count)]
    pub shed_above: u64,
    /// Status of shed requests: 429, or 503 with Retry-After.
    #[arg(long, env = "SATLAB_TARGET_SHED_STATUS", default_value = "429", value_parser = shed_status)]
    pub shed_status: u16,
    /// Listen backlog (kernel-capped at net.core.somaxconn).
    #[arg(long, env = "SATLAB_TARGET_BACKLOG", default_value = "1024", value_parser = count)]
    pub backlog: u64,
    /// Sleep after every accept: a slow accept loop fills the listen queue.
    #[arg(long, env = "SATLAB_TARGET_ACCEPT_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub accept_delay: Duration,
    /// Soft limit on open files (setrlimit NOFILE) to starve the server of sockets.
    #[arg(long, env = "SATLAB_TARGET_MAX_OPEN_FILES", value_parser = count)]
    pub max_open_files: Option<u64>,
    /// Request body limit in bytes (413 above it).
    #[arg(long, env = "SATLAB_TARGET_MAX_BODY", default_value = "1048576", value_parser = count)]
    pub max_body: u64,
    /// Vector-length cap (422 above it).
    #[arg(long, env = "SATLAB_TARGET_MAX_LEN", default_value = "100000", value_parser = count)]
    pub max_len: u64,
    /// Bearer token for the admin API; required when listening on a non-loopback address.
    #[arg(long, env = "SATLAB_TARGET_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Longest wait for in-flight requests at shutdown.
    #[arg(long, env = "SATLAB_TARGET_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

impl Args {
    /// The server configuration these flags describe (validated by the server).
    pub fn config(&self) -> Config {
        Config {
            listen: self.listen,
            backlog: u32::try_from(self.backlog).unwrap_or(u32::MAX),
            pool_size: u32::try_from(self.pool_size).unwrap_or(u32::MAX),
            max_body: usize::try_from(self.max_body).unwrap_or(usize::MAX),
            max_len: usize::try_from(self.max_len).unwrap_or(usize::MAX),
            admin_token: self.admin_token.clone(),
            drain_timeout: self.drain_timeout,
            settings: Settings {
                profile: Profile {
                    cpu_cost: self.cpu_cost,
                    cpu_iterations: self.cpu_iterations,
                    io_delay: self.io_delay,
                    pool_hold: self.pool_hold,
                },
                events: Events {
                    pause_every: self.pause_every,
                    pause_duration: self.pause_duration,
                    recycle_every: self.recycle_every,
                    recycle_cost: self.recycle_cost,
                    burst_every: self.burst_every,
                    burst_duration: self.burst_duration,
                    shed_above: self.shed_above,
                    shed_status: self.shed_status,
                    accept_delay: self.accept_delay,
                },
            },
        }
    }
}

/// Run target-api with `args` (including the program name); returns the exit code
/// (`satlab_common::exit`): 0 after a clean shutdown, 2 for bad flags, 1 for other failures.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let args = match exit::parse_or_exit::<Args, _, _>(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,opentelemetry_sdk=off,opentelemetry_otlp=error,opentelemetry=error",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let config = args.config();
    if let Err(e) = config.validate() {
        eprintln!("error: invalid value for {}: {}", e.flag(), e.message);
        return ExitCode::from(exit::USAGE);
    }
    match run_server(&args, config) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn run_server(args: &Args, config: Config) -> anyhow::Result<()> {
    if let Some(n) = args.max_open_files {
        crate::limits::set_open_files_limit(n)?;
    }
    let workers = args.workers.unwrap_or_else(default_workers);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let telemetry_cfg = TelemetryConfig::from_env().context("telemetry settings")?;
    rt.block_on(async move {
        let telemetry = Arc::new(Telemetry::init(&telemetry_cfg).context("telemetry")?);
        let listener = bind(config.listen, config.backlog)?;
        let signals = shutdown_signal()?;
        let report = serve(config, telemetry.clone(), listener, signals).await?;
        tracing::info!(
            admitted = report.admitted,
            drained = report.drained,
            "stopped serving; flushing telemetry"
        );
        let limit = crate::server::SHUTDOWN_FLUSH_LIMIT;
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown(limit)).await;
        anyhow::Ok(())
    })?;
    // Exporter threads may still hold the runtime; do not wait for them.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// One runtime worker per CPU in the process's affinity set (the quota is not counted:
/// a worker per CPU the process may be scheduled on).
fn default_workers() -> usize {
    satlab_common::capacity::affinity_count(std::process::id())
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Register SIGTERM/SIGINT handlers now (before the server reports it is listening) and
/// return the future that completes on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
