//! The `observer` command line: `lab`, `serve`, `submit`, `sample`, `diagnose`, `scenario`,
//! and the multicall roles `target-api` and `loadgen`.

use crate::lab::{self, LabOptions};
use crate::scenario::Scenario;
use crate::serve::{self, ServeOptions};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use satlab_common::duration::parse_positive_duration;
use satlab_common::exit;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Print a line to stdout; a closed pipe (`| head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// satlab observer: watch both sides of a load test and say why throughput stopped growing.
#[derive(Debug, Parser)]
#[command(name = "observer", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario locally: start target-api (or your service: --target-cmd, or attach:
    /// --target-pid) and loadgen, sample both, collect their OTLP, and leave a run
    /// directory (then diagnose it).
    Lab(LabArgs),
    /// Long-running OTLP consumer with an HTTP API and /metrics (the docker lab).
    Serve(ServeArgs),
    /// Upload a loadgen record (`loadgen --out DIR`) to `observer serve` and diagnose it.
    Submit(SubmitArgs),
    /// Open a distributed run on `observer serve` for N loadgens to join (`loadgen --join`).
    Distribute(crate::distribute_cmd::DistributeArgs),
    /// Merge a distributed run's loadgen records again, offline (`observer serve` merges
    /// before it diagnoses).
    Merge(crate::merge_cmd::MergeArgs),
    /// Sample processes by PID (CPU normalised to capacity, RSS, threads, fds) as JSON lines.
    Sample(SampleArgs),
    /// Diagnose a run directory: verdict, USL fit, spikes (text, JSON or HTML).
    Diagnose(crate::diagnose_cmd::DiagnoseArgs),
    /// Print what running a scenario against a running target takes (the docker lab).
    Scenario(crate::scenario_cmd::ScenarioArgs),
    /// Run a program so that none of its processes outlives the lab (used by `lab
    /// --target-cmd`).
    #[command(hide = true)]
    Guard(crate::guard::GuardArgs),
}

fn parse_hz(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number: give a rate in Hz, e.g. 10"))?;
    crate::sampler::period(v).map_err(|e| e.to_string())?;
    Ok(v)
}

/// `observer lab`.
#[derive(Debug, Args)]
#[command(after_help = "\
Your own service:
  observer lab --target-cmd 'python3 server.py --port {port}' --url 'http://127.0.0.1:{port}/work'
  observer lab --target-pid 4242 --url http://127.0.0.1:8080/ -- --stages 1:5s,2:5s,4:5s -m GET
  observer lab --scenario examples/python-gil/scenario.toml
{port} is a free port the lab picks. Without --scenario, the load doubles from 1 to 64
connections, 3 s a step (GET); loadgen arguments after `--` replace the scenario's.")]
pub struct LabArgs {
    /// Scenario name (see --list) or a scenario TOML file [default: gc-spikes; with
    /// --target-cmd or --target-pid: doubling concurrency, 1 to 64].
    #[arg(long, short = 's', value_name = "NAME|FILE")]
    pub scenario: Option<String>,
    /// Start your service instead of target-api: a shell command line, run with `sh -c`
    /// under a guard that stops its whole process tree; `{port}` is a free port.
    #[arg(long, value_name = "CMD")]
    pub target_cmd: Option<String>,
    /// The URL to load (with --target-cmd or --target-pid), e.g.
    /// http://127.0.0.1:{port}/work.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The URL that answers (any status below 500) once the service is ready
    /// [default: --url].
    #[arg(long, value_name = "URL")]
    pub ready_url: Option<String>,
    /// Attach to a running server process (and its children) instead of starting one; the
    /// run uses the host's network.
    #[arg(long, value_name = "PID", conflicts_with = "target_cmd")]
    pub target_pid: Option<u32>,
    /// loadgen arguments (after `--`), replacing the scenario's `[load] args`.
    #[arg(last = true, value_name = "LOADGEN ARGS")]
    pub load: Vec<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Run directory to write (default: runs/<scenario>-<UTC time>). Must not hold a run.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// target-api program to run (default: this executable as `observer target-api`).
    #[arg(long, value_name = "PATH")]
    pub target_bin: Option<PathBuf>,
    /// loadgen program to run (default: this executable as `observer loadgen`).
    #[arg(long, value_name = "PATH")]
    pub loadgen_bin: Option<PathBuf>,
    /// Process sampling rate, Hz (0.1–1000).
    #[arg(long, default_value = "10", value_parser = parse_hz)]
    pub hz: f64,
    /// Interrupt the run if it takes longer than this (e.g. 10m).
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration)]
    pub max_duration: Duration,
    /// How long to wait for the server to be ready (target-api's /readyz, --ready-url).
    #[arg(long, default_value = "20s", value_parser = parse_positive_duration)]
    pub ready_timeout: Duration,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Network for the run: `auto` uses a private network namespace when run as root, so
    /// the kernel's TCP counters count only the lab's own sockets; `host` shares the
    /// machine's network (counters then include unrelated traffic).
    #[arg(long, value_enum, default_value = "auto")]
    pub network: crate::lab::NetworkChoice,
}

/// `observer serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// OTLP gRPC listen address.
    #[arg(long, default_value = "0.0.0.0:4317", value_name = "ADDR")]
    pub otlp_grpc: SocketAddr,
    /// OTLP HTTP/protobuf listen address.
    #[arg(long, default_value = "0.0.0.0:4318", value_name = "ADDR")]
    pub otlp_http: SocketAddr,
    /// API and /metrics listen address.
    #[arg(long, default_value = "0.0.0.0:9464", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where run directories are kept (and picked up when written there directly).
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub runs_dir: PathBuf,
    /// Largest accepted OTLP request, MiB (before and after decompression).
    #[arg(long, default_value = "4", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub max_otlp_mb: u64,
    /// Largest accepted loadgen file upload, MiB.
    #[arg(long, default_value = "256", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_upload_mb: u64,
}

/// `observer submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The loadgen record directory (`loadgen --out DIR`), or a run directory holding `loadgen/`.
    pub dir: PathBuf,
    /// Base URL of `observer serve`.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9464")]
    pub to: String,
    /// Run id (default: the directory's name); 1–64 of A-Z a-z 0-9 . _ -.
    #[arg(long)]
    pub id: Option<String>,
}

/// `observer sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Process to sample (repeat for several).
    #[arg(long = "pid", required = true, value_name = "PID")]
    pub pids: Vec<u32>,
    /// Sampling rate, Hz.
    #[arg(long, default_value = "10", value_parser = parse_hz)]
    pub hz: f64,
    /// How long to sample.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    pub duration: Duration,
}

/// Run the observer with `args` (including the program name).
pub fn run(args: Vec<OsString>) -> ExitCode {
    // Multicall: `observer target-api ...` and `observer loadgen ...`.
    if let Some(role) = args.get(1).and_then(|a| a.to_str()) {
        match role {
            "target-api" => return target_api::cli::run(args[1..].to_vec()),
            "loadgen" => return loadgen_role(args[1..].to_vec()),
            _ => {}
        }
    }
    let cli = match exit::parse_or_exit::<Cli, _, _>(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn loadgen_role(args: Vec<OsString>) -> ExitCode {
    loadgen::cli::run(args)
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Lab(a) => run_lab(a),
        Command::Serve(a) => run_serve(a),
        Command::Submit(a) => run_submit(a),
        Command::Sample(a) => run_sample(a),
        Command::Diagnose(a) => crate::diagnose_cmd::run(&a).map(|()| ExitCode::SUCCESS),
        Command::Merge(a) => crate::merge_cmd::run(&a).map(|()| ExitCode::SUCCESS),
        Command::Distribute(a) => runtime()?
            .block_on(crate::distribute_cmd::run(&a))
            .map(|()| ExitCode::SUCCESS),
        Command::Scenario(a) => crate::scenario_cmd::run(&a).map(|()| ExitCode::SUCCESS),
        Command::Guard(a) => Ok(ExitCode::from(crate::guard::run(&a)?)),
    }
}

fn run_lab(a: LabArgs) -> anyhow::Result<ExitCode> {
    if a.list {
        for s in Scenario::builtins() {
            match s {
                Ok(s) => say!("{}", s.list_line()),
                Err(e) => say!("(broken) {e}"),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let opts = LabOptions {
        scenario: a.scenario,
        target_cmd: a.target_cmd,
        url: a.url,
        ready_url: a.ready_url,
        target_pid: a.target_pid,
        load_args: (!a.load.is_empty()).then_some(a.load),
        out: a.out,
        target_bin: a.target_bin,
        loadgen_bin: a.loadgen_bin,
        hz: a.hz,
        max_duration: a.max_duration,
        ready_timeout: a.ready_timeout,
        progress: !a.quiet,
        network: a.network,
        ..LabOptions::default()
    };
    let outcome = lab::run(&opts)?;
    match crate::analysis::diagnose(&outcome.dir) {
        crate::analysis::Analysis::Done { summary, .. } => {
            say!("{summary}");
            say!(
                "report: {}",
                satlab_record::RunDir::new(&outcome.dir)
                    .report_html()
                    .display()
            );
        }
        crate::analysis::Analysis::Failed(e) => {
            if !outcome.loadgen_tail.is_empty() {
                say!("{}", outcome.loadgen_tail);
            }
            eprintln!("diagnosis failed: {e}");
        }
    }
    say!("server events received over OTLP: {}", outcome.events);
    match outcome.ending.reason() {
        None => say!("run complete: {}", outcome.dir.display()),
        Some(r) => eprintln!("run interrupted ({r}): {}", outcome.dir.display()),
    }
    Ok(ExitCode::from(outcome.ending.exit_code()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run_serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let opts = ServeOptions {
        otlp_grpc: a.otlp_grpc,
        otlp_http: a.otlp_http,
        listen: a.listen,
        runs_dir: a.runs_dir,
        max_upload_bytes: a.max_upload_mb * 1024 * 1024,
        receiver: crate::otlp::ReceiverConfig {
            max_message_bytes: (a.max_otlp_mb * 1024 * 1024) as usize,
            ..Default::default()
        },
    };
    runtime()?.block_on(async move {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(mut i), Ok(mut t)) => {
                    tokio::select! { _ = i.recv() => {}, _ = t.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        serve::serve(opts, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_submit(a: SubmitArgs) -> anyhow::Result<ExitCode> {
    let files_dir = if a.dir.join("loadgen").join("summary.json").is_file() {
        a.dir.join("loadgen")
    } else {
        a.dir.clone()
    };
    if !files_dir.join("summary.json").is_file() {
        anyhow::bail!(
            "{}: no summary.json here or in loadgen/: give the directory `loadgen --out` wrote",
            a.dir.display()
        );
    }
    let id = match a.id {
        Some(id) => id,
        None => a
            .dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default(),
    };
    if !serve::valid_run_id(&id) {
        anyhow::bail!("run id {id:?} is invalid: pass --id with 1-64 of A-Z a-z 0-9 . _ -");
    }
    let base = a.to.trim_end_matches('/').to_string();
    if !base.starts_with("http://") {
        anyhow::bail!("--to {base:?}: give an http:// URL, e.g. http://127.0.0.1:9464");
    }
    let code = runtime()?.block_on(async move {
        let client = loadgen::observer_client::Client::new();
        for f in serve::LOADGEN_FILES {
            let p = files_dir.join(f);
            if !p.is_file() {
                continue;
            }
            let url = format!("{base}/api/runs/{id}/loadgen/{f}");
            let (status, body) = client.send_file("PUT", &url, &p).await?;
            if !(200..300).contains(&status) {
                anyhow::bail!("upload of {f} failed: HTTP {status}: {body}");
            }
            eprintln!("uploaded {f}");
        }
        let url = format!("{base}/api/runs/{id}/diagnose");
        let (status, body) = client.send_bytes("POST", &url, Vec::new()).await?;
        say!("{body}");
        anyhow::Ok(if (200..300).contains(&status) {
            ExitCode::SUCCESS
        } else {
            eprintln!("diagnose: HTTP {status}");
            ExitCode::from(exit::FAILURE)
        })
    })?;
    Ok(code)
}

fn run_sample(a: SampleArgs) -> anyhow::Result<ExitCode> {
    use satlab_record::samples::Role;
    let how = crate::sampler::Sampled::Process;
    let targets: Vec<_> = a.pids.iter().map(|&p| (Role::Server, p, how)).collect();
    let mut s = crate::sampler::Sampler::new(&targets)?;
    let period = crate::sampler::period(a.hz)?;
    let end = std::time::Instant::now() + a.duration;
    let mut out = std::io::stdout().lock();
    let mut next = std::time::Instant::now();
    while std::time::Instant::now() < end {
        let (procs, _) = s.sample();
        for p in procs {
            use std::io::Write;
            serde_json::to_writer(&mut out, &p)?;
            writeln!(out)?;
        }
        next += period;
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    fn lab_max_duration(value: &str) -> Result<Duration, String> {
        match Cli::try_parse_from(["observer", "lab", "--max-duration", value]) {
            Ok(Cli {
                command: Command::Lab(a),
            }) => Ok(a.max_duration),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(lab_max_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(lab_max_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(lab_max_duration("1m30s"), Ok(Duration::from_secs(90)));
        // A bare number could mean seconds or milliseconds: refused, naming the forms.
        let e = lab_max_duration("3").unwrap_err();
        assert!(e.contains("no unit") && e.contains("1m30s"), "{e}");
        assert!(lab_max_duration("soon").unwrap_err().contains("250ms"));
        assert!(lab_max_duration("0s").unwrap_err().contains("above zero"));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let e = Cli::try_parse_from(["observer", "lab", "--hz", "0"]).unwrap_err();
        assert!(e.to_string().contains("--hz"), "{e}");
        let e = Cli::try_parse_from(["observer", "serve", "--listen", "nowhere"]).unwrap_err();
        assert!(e.to_string().contains("--listen"), "{e}");
    }
}
