//! The command line: parses flags (each with a message naming the fix), builds its own
//! tokio runtime, runs the plan, prints the table or JSON, and maps outcomes to exit codes.

use crate::client::{ClientConfig, RequestSpec, TargetError};
use crate::error::LoadgenError;
use crate::io_driver::IoDriver;
use crate::otel::config::OtelConfig;
use crate::plan::{self, Load, Plan};
use crate::runner::{Options, run as run_plan};
use crate::threshold;
use crate::{join, observer_client};
use bytes::Bytes;
use clap::{ArgGroup, Parser};
use satlab_common::exit;
use satlab_common::otel_env::OtelEnvError;
use satlab_record::distributed::JoinReply;
use satlab_record::judge;
use satlab_record::summary::LoadgenSummary;
use satlab_record::threshold::Threshold;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest `--body @file` accepted.
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Options the flags and the environment cannot make into a run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// `--body @FILE` cannot be read.
    #[error("--body @{path}: cannot read the file: {source}")]
    BodyUnreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--body @FILE` is larger than [`MAX_BODY_BYTES`].
    #[error("--body @{path} is {size} bytes; the cap is {MAX_BODY_BYTES} bytes")]
    BodyTooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The URL, method or a header is invalid.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An `OTEL_*` variable cannot be used.
    #[error("{0}")]
    Otel(#[from] OtelEnvError),
}

const AFTER_HELP: &str = "\
Examples:
  loadgen http://127.0.0.1:18080/api/vector/add --body '{\"a\":[1,2],\"b\":[3,4]}' \\
          --stages 10:30s,100:30s,1000:30s --out /tmp/run1
  loadgen http://127.0.0.1:18080/health --rate 2000/s --duration 30s
  loadgen http://127.0.0.1:18080/health --rate-stages 500:10s,1000:10s --max-in-flight 2000

Closed loop (--stages): N workers each send the next request when the previous one ends;
latency is measured from the actual send. Open loop (--rate, --rate-stages): requests
are due on a fixed schedule whatever the server does; latency is measured from the
intended send time, so a stalled server cannot hide its stall (coordinated omission).
Sends that find --max-in-flight requests outstanding are dropped and counted.

--client-work simulates an expensive client (e.g. signing each payload): before each
request the sending thread spins until its own CPU clock has advanced by the given time,
so the cost is CPU time on any machine (a busy one stretches it in wall time only).

OpenTelemetry: when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) is set and OTEL_SDK_DISABLED is not true, sampled
client spans (the span id sent in traceparent) and http.client.request.duration are
exported (OTEL_SERVICE_NAME, default loadgen; OTEL_EXPORTER_OTLP_PROTOCOL grpc or
http/protobuf). A variable that cannot be used is a usage error.

Thresholds (--threshold, repeatable) are judged on the summary at the end of the run
and listed in the table and the JSON summary:
  --threshold 'p99<50ms' --threshold 'errors<1%' --threshold 'rps>1000'
  --threshold 'p99.9<=1.5s@step=2' --threshold 'errors<0.01@step=last'
METRIC OP VALUE[@step=N|@step=last]; steps count from 0, as in the table; without a
selector the whole run is judged. Latency metrics p50 p90 p95 p99 p99.9 max mean take a
duration (50ms, 1.5s, 1m30s); errors a share (1% or 0.01); rps requests/s; requests a
count. errors = (requests without a response + responses with status >= 400, 429
included) / completed requests; open-loop dropped sends were never sent and count in
neither. A latency or errors threshold on a window without a completed request fails.

Exit codes: 0 run completed (even with request errors) and every threshold passed,
1 runtime failure, 2 usage error (bad flag, plan, limit or threshold), 99 a threshold
failed, 130 interrupted by Ctrl-C and 143 by SIGTERM (the record is still written,
marked interrupted, with the thresholds judged on the partial run; the interruption's
code wins over 99).";

fn duration_arg(s: &str) -> Result<Duration, String> {
    plan::parse_duration(s).map_err(|e| e.to_string())
}

fn rate_arg(s: &str) -> Result<f64, String> {
    plan::parse_rate(s).map_err(|e| e.to_string())
}

fn ratio_arg(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number; give a ratio from 0 to 1 (e.g. 0.01)"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "{v} is outside 0..=1; give a ratio such as 0.01 or 1"
        ));
    }
    Ok(v)
}

fn threshold_arg(s: &str) -> Result<Threshold, String> {
    threshold::parse_threshold(s).map_err(|e| e.to_string())
}

fn header_arg(s: &str) -> Result<String, String> {
    match s.split_once(':') {
        Some((k, _)) if !k.trim().is_empty() => Ok(s.to_string()),
        _ => Err(format!(
            "'{s}' is not 'Name: value' (e.g. -H 'x-api-key: 123')"
        )),
    }
}

fn threads_arg(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of threads"))?;
    if n == 0 || n > 1024 {
        return Err(format!("{n} threads is out of range; use 1..=1024"));
    }
    Ok(n)
}

fn in_flight_arg(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if n == 0 || n > plan::MAX_CONCURRENCY {
        return Err(format!(
            "{n} is out of range; use 1..={}",
            plan::MAX_CONCURRENCY
        ));
    }
    Ok(n)
}

/// satlab load generator: ramping concurrency and open-loop rates with HdrHistogram
/// latencies, errors by kind and W3C trace propagation.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("load").required(true).args(["stages", "rate", "rate_stages", "join"])))]
pub struct Cli {
    /// Target URL (http://HOST[:PORT]/PATH).
    pub url: String,
    /// Closed loop: CONCURRENCY:DURATION steps, e.g. 10:30s,100:30s,1000:30s.
    #[arg(long, value_name = "SPEC")]
    pub stages: Option<String>,
    /// Open loop: constant arrival rate, e.g. 2000/s (needs --duration).
    #[arg(long, value_name = "RATE", value_parser = rate_arg, requires = "duration")]
    pub rate: Option<f64>,
    /// Open loop: how long --rate is held, e.g. 30s.
    #[arg(long, value_name = "DUR", value_parser = duration_arg, requires = "rate")]
    pub duration: Option<Duration>,
    /// Open loop: RATE:DURATION steps, e.g. 500:10s,1000:10s.
    #[arg(long, value_name = "SPEC")]
    pub rate_stages: Option<String>,
    /// Open loop: most requests outstanding; sends beyond it are dropped and counted.
    #[arg(long, value_name = "N", default_value = "5000", value_parser = in_flight_arg)]
    pub max_in_flight: u32,
    /// Time at the start of each step excluded from its statistics [default: 1s, or a
    /// half of the shortest step if that is less].
    #[arg(long, value_name = "DUR", value_parser = duration_arg)]
    pub settle: Option<Duration>,
    /// HTTP method (default POST with a body, GET without).
    #[arg(short = 'm', long)]
    pub method: Option<String>,
    /// Request body: a string, or @FILE to read it from a file.
    #[arg(short = 'b', long, value_name = "STR|@FILE")]
    pub body: Option<String>,
    /// Extra header 'Name: value' (repeatable). A body gets content-type application/json
    /// unless one is given.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = header_arg)]
    pub headers: Vec<String>,
    /// Request timeout: from sending to the end of the response body.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = duration_arg)]
    pub timeout: Duration,
    /// TCP connect timeout.
    #[arg(long, value_name = "DUR", default_value = "3s", value_parser = duration_arg)]
    pub connect_timeout: Duration,
    /// Open a new TCP connection per request (shows TIME_WAIT and port exhaustion).
    #[arg(long)]
    pub new_connection: bool,
    /// Use HTTP/2 with prior knowledge (h2c).
    #[arg(long)]
    pub http2: bool,
    /// HTTP/2: connections shared by the workers.
    #[arg(long, value_name = "N", default_value = "1", value_parser = threads_arg)]
    pub h2_connections: usize,
    /// The closed loop's I/O driver for HTTP/1.1 keep-alive: auto (io-uring where the
    /// kernel offers it, else tokio), io-uring, or tokio.
    #[arg(long, value_name = "DRIVER", default_value = "auto", value_parser = IoDriver::parse)]
    pub io: IoDriver,
    /// Runtime threads, and io_uring threads (default: the CPUs this process may use).
    #[arg(long, value_name = "N", value_parser = threads_arg)]
    pub threads: Option<usize>,
    /// CPU time spent per request in the client before sending, e.g. 200us (simulates an
    /// expensive client such as payload signing); measured on the thread's CPU clock.
    #[arg(long, value_name = "DUR", value_parser = duration_arg)]
    pub client_work: Option<Duration>,
    /// Ratio of requests whose traceparent is marked sampled (and whose client span is
    /// exported); the header is always sent.
    #[arg(long, value_name = "RATIO", default_value = "1.0", value_parser = ratio_arg)]
    pub trace_sample: f64,
    /// Longest wait for in-flight requests at the end or after Ctrl-C.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = duration_arg)]
    pub drain_timeout: Duration,
    /// Join a distributed run on `observer serve` (http://HOST:PORT/api/runs/ID) instead of
    /// giving a plan: the observer assigns this loadgen its id, its share of the plan and
    /// the start instant; the record is uploaded to it at the end.
    #[arg(long, value_name = "RUN_URL", conflicts_with_all = ["duration", "settle", "max_in_flight"])]
    pub join: Option<String>,
    /// With --join: this loadgen's id in the run (e.g. a Kubernetes Indexed Job's
    /// completion index); without it the observer assigns one.
    #[arg(long, value_name = "K", requires = "join")]
    pub loadgen_id: Option<u32>,
    /// Write the run record (summary.json, histograms.json, seconds.jsonl, requests.bin).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A pass/fail check judged at the end (repeatable): METRIC OP VALUE, optionally
    /// @step=N or @step=last, e.g. 'p99<50ms', 'errors<1%', 'rps>1000'. Any failed: exit 99.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = threshold_arg)]
    pub thresholds: Vec<Threshold>,
    /// Print the summary JSON to stdout (progress and table go to stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line and no table.
    #[arg(short, long)]
    pub quiet: bool,
}

impl Cli {
    /// The plan these flags describe.
    pub fn plan(&self) -> Result<Plan, plan::PlanError> {
        let (load, spec) = if let Some(s) = &self.stages {
            (Load::Closed(plan::parse_stages(s)?), s.clone())
        } else if let Some(s) = &self.rate_stages {
            (
                Load::Open {
                    stages: plan::parse_rate_stages(s)?,
                    max_in_flight: self.max_in_flight,
                },
                s.clone(),
            )
        } else {
            let rate = self.rate.unwrap_or(1.0);
            let duration = self.duration.unwrap_or(Duration::from_secs(1));
            if duration.is_zero() || duration > plan::MAX_TOTAL {
                return Err(plan::PlanError(format!(
                    "--duration must be above 0 and at most {}s",
                    plan::MAX_TOTAL.as_secs()
                )));
            }
            (
                Load::Open {
                    stages: vec![plan::RateStage { rate, duration }],
                    max_in_flight: self.max_in_flight,
                },
                format!("{rate}/s:{}s", duration.as_secs_f64()),
            )
        };
        let shortest = match &load {
            Load::Closed(s) => s.iter().map(|s| s.duration).min(),
            Load::Open { stages, .. } => stages.iter().map(|s| s.duration).min(),
        }
        .unwrap_or(Duration::ZERO);
        let settle = self
            .settle
            .unwrap_or_else(|| Duration::from_secs(1).min(shortest / 2));
        Plan::new(load, settle, spec)
    }

    fn body(&self) -> Result<Bytes, OptionsError> {
        match self.body.as_deref() {
            None => Ok(Bytes::new()),
            Some(b) => match b.strip_prefix('@') {
                Some(path) => {
                    let unreadable = |source| OptionsError::BodyUnreadable {
                        path: path.to_string(),
                        source,
                    };
                    let meta = std::fs::metadata(path).map_err(unreadable)?;
                    if meta.len() > MAX_BODY_BYTES {
                        return Err(OptionsError::BodyTooLarge {
                            path: path.to_string(),
                            size: meta.len(),
                        });
                    }
                    Ok(Bytes::from(std::fs::read(path).map_err(unreadable)?))
                }
                None => Ok(Bytes::from(b.to_string())),
            },
        }
    }

    /// The run options these flags and the `OTEL_*` environment describe.
    pub fn options(&self) -> Result<Options, OptionsError> {
        let body = self.body()?;
        let method = self
            .method
            .clone()
            .unwrap_or_else(|| if body.is_empty() { "GET" } else { "POST" }.into());
        let request = RequestSpec::new(&self.url, &method, &self.headers, body)?;
        let mut o = Options::new(request);
        o.client = ClientConfig {
            connect_timeout: self.connect_timeout,
            request_timeout: self.timeout,
            new_connection: self.new_connection,
            http2: self.http2,
            h2_connections: self.h2_connections,
        };
        o.io = self.io;
        o.client_work = self.client_work.unwrap_or(Duration::ZERO);
        o.trace_sample = self.trace_sample;
        o.out = self.out.clone();
        o.progress = !self.quiet;
        o.drain_timeout = self.drain_timeout;
        o.otel = OtelConfig::from_env()?;
        o.interrupt_reason = "stopped by a signal (SIGINT or SIGTERM)".into();
        o.thresholds = self.thresholds.clone();
        Ok(o)
    }

    /// Refuse a threshold whose step selector names a step `plan` does not have.
    pub fn check_thresholds(&self, plan: &Plan) -> Result<(), String> {
        let steps = plan.schedule().steps.len();
        for t in &self.thresholds {
            t.scope
                .resolve(steps)
                .map_err(|e| format!("--threshold '{}': {e}", t.expr))?;
        }
        Ok(())
    }
}

/// The exit code of a finished run: the interruption's (130, or 143 for SIGTERM) before
/// a failed threshold's (99).
pub fn exit_code(summary: &LoadgenSummary, signal_code: u8) -> u8 {
    if summary.interrupted {
        signal_code
    } else if !judge::all_passed(&summary.thresholds) {
        exit::THRESHOLD
    } else {
        exit::OK
    }
}

/// Run the loadgen command line `args` (program name first). Builds its own runtime.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match exit::parse_or_exit::<Cli, _, _>(args.clone()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let usage = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(exit::USAGE)
    };
    let (cli, joined) = match &cli.join {
        None => (cli, None),
        Some(url) => match joined_cli(url, &cli, args) {
            Ok((c, j)) => (c, Some(j)),
            Err(JoinFailure::Usage(e)) => return usage(e),
            Err(JoinFailure::Join(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        },
    };
    let plan = match cli.plan() {
        Ok(p) => p,
        Err(e) => return usage(e.to_string()),
    };
    if let Err(e) = cli.check_thresholds(&plan) {
        return usage(e);
    }
    let mut opts = match cli.options() {
        Ok(o) => o,
        Err(e) => return usage(e.to_string()),
    };
    if let Some(j) = &joined {
        opts.distributed = Some(join::part(&j.reply));
        opts.out.get_or_insert_with(|| {
            std::env::temp_dir().join(format!(
                "satlab-{}-loadgen-{}",
                j.reply.run, j.reply.loadgen
            ))
        });
    }
    let threads = cli
        .threads
        .unwrap_or_else(|| satlab_common::capacity::own_cpus().ceil().max(1.0) as usize);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("loadgen")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let json = cli.json;
    let quiet = cli.quiet;
    let signal_code = Arc::new(AtomicU8::new(exit::INTERRUPTED));
    let code_of_signal = signal_code.clone();
    let result = rt.block_on(async move {
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => code_of_signal.store(exit::TERMINATED, Ordering::Relaxed),
            }
            c2.cancel();
        });
        let out = opts.out.clone();
        let outcome = run_plan(plan, opts, cancel).await?;
        if let (Some(j), Some(dir)) = (&joined, out) {
            join::upload(
                &observer_client::Client::new(),
                &j.url,
                j.reply.loadgen,
                &dir,
            )
            .await
            .map_err(|e| LoadgenError::Upload(e.to_string()))?;
            if !quiet {
                eprintln!(
                    "record uploaded to {} as loadgen {}",
                    j.url, j.reply.loadgen
                );
            }
        }
        Ok::<_, LoadgenError>(outcome)
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(outcome) => {
            let s = &outcome.summary;
            if json {
                match serde_json::to_string_pretty(s) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: cannot serialise the summary: {e}");
                        return ExitCode::from(exit::FAILURE);
                    }
                }
                if !quiet {
                    eprint!("{}", crate::table::table(s));
                }
            } else if !quiet {
                print!("{}", crate::table::table(s));
            }
            if let Some(f) = &outcome.files
                && !quiet
            {
                eprintln!("record written to {}", f.dir().display());
            }
            ExitCode::from(exit_code(s, signal_code.load(Ordering::Relaxed)))
        }
        Err(e) if e.is_usage() => usage(e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// A joined distributed run: where it is and what the observer assigned.
struct Joined {
    url: String,
    reply: JoinReply,
}

enum JoinFailure {
    Usage(String),
    Join(String),
}

/// Join the run at `url`, then read the command line again with the share's plan flags in
/// place of `--join`.
fn joined_cli(url: &str, cli: &Cli, args: Vec<OsString>) -> Result<(Cli, Joined), JoinFailure> {
    let url = join::run_url(url).map_err(|e| JoinFailure::Usage(e.to_string()))?;
    // Refuse what this loadgen could never run before it takes an id and a share.
    cli.options()
        .map_err(|e| JoinFailure::Usage(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| JoinFailure::Join(format!("cannot start the runtime: {e}")))?;
    let client = observer_client::Client::new();
    if !cli.quiet {
        eprintln!("joining {url}: waiting for the other loadgens");
    }
    let reply = rt
        .block_on(join::join(&client, &url, cli.loadgen_id))
        .map_err(|e| JoinFailure::Join(e.to_string()))?;
    let mut rest = Vec::with_capacity(args.len() + reply.args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        if text == "--join" || text == "--loadgen-id" {
            it.next();
        } else if !(text.starts_with("--join=") || text.starts_with("--loadgen-id=")) {
            rest.push(a);
        }
    }
    rest.extend(reply.args.iter().map(OsString::from));
    let cli = Cli::try_parse_from(rest).map_err(|e| {
        JoinFailure::Join(format!(
            "the observer's share {:?} does not parse: {e}",
            reply.args
        ))
    })?;
    if !cli.quiet {
        eprintln!(
            "joined as loadgen {} of {}: {}",
            reply.loadgen, reply.of, reply.spec
        );
    }
    Ok((cli, Joined { url, reply }))
}
