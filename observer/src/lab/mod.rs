//! `observer lab`: run one scenario locally and leave a run directory.
//!
//! The lab starts its OTLP receiver, starts the server ([`target`]: target-api, another
//! service's command under `observer guard`, or attaches to a running process), waits
//! until it is ready, starts loadgen, all with their OTLP pointed at the receiver, samples
//! both sides (another service's whole process tree) and the kernel counters of the
//! server's namespace, and stops everything when loadgen ends, on Ctrl-C / SIGTERM, or
//! when a child dies. Children lead their own process groups and get SIGTERM when the
//! observer dies (`PR_SET_PDEATHSIG`), so none is left behind and loadgen still writes its
//! (interrupted) record.
//!
//! This file is the run from start to end; each step has its own file: [`target`],
//! [`network`], [`spawn`] (with [`logs`] and [`server`]), [`readiness`], [`sampling`],
//! [`watch`] (with [`signals`]), [`last_exports`], and [`ending`].

pub mod ending;
pub mod last_exports;
pub mod logs;
pub mod network;
pub mod options;
pub mod out_dir;
pub mod readiness;
pub mod sampling;
pub mod server;
pub mod signals;
pub mod spawn;
pub mod target;
pub mod watch;

pub use crate::error::LabError;
pub use ending::{Ending, LabOutcome};
pub use logs::tail;
pub use options::{LabOptions, NetworkChoice};
pub use out_dir::default_out;
pub use readiness::http_get_status;
pub use spawn::free_port;
pub use target::TargetChoice;

use crate::children;
use crate::otlp::{self, ReceiverConfig, Store, StoreLimits};
use crate::progress::Progress;
use crate::rundir::RunWriter;
use crate::sampler;
use crate::scenario::Scenario;
use last_exports::{await_last_exports, otlp_items};
use sampling::Sampling;
use signals::Signals;
use spawn::ChildPlan;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run a lab. Call from a single-threaded process (before any runtime starts): a
/// scenario with `[netns]` moves the whole process into a new network namespace first.
pub fn run(opts: &LabOptions) -> Result<LabOutcome, LabError> {
    let any_service = opts.target_cmd.is_some() || opts.target_pid.is_some() || opts.url.is_some();
    let scenario = match (&opts.scenario, any_service) {
        (Some(s), _) => Scenario::find(s)?,
        (None, true) => Scenario::any_service(),
        (None, false) => Scenario::find("gc-spikes")?,
    };
    let target = TargetChoice::resolve(opts, &scenario)?;
    sampler::period(opts.hz)?;
    let attach = matches!(target, TargetChoice::Attach { .. });
    let private = network::enter(&scenario, opts.network, attach)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LabError::Env(format!("cannot start the async runtime: {e}")))?;
    let out = rt.block_on(run_async(opts, scenario, target, private));
    rt.shutdown_timeout(Duration::from_secs(1));
    out
}

async fn run_async(
    opts: &LabOptions,
    scenario: Scenario,
    target: TargetChoice,
    private: bool,
) -> Result<LabOutcome, LabError> {
    let mut signals = Signals::install()?;
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
    let target = match target {
        TargetChoice::Command(c) => TargetChoice::Command(c.with_port(port)),
        t => t,
    };
    let plan = ChildPlan {
        opts,
        scenario: &scenario,
        dir: &dir,
        otlp: receiver.grpc_addr,
        target: &target,
        port,
    };
    let probe = plan.probe()?;
    let mut progress = Progress::new(Progress::stderr_is_tty());
    let started = Instant::now();

    let mut server = plan.start_server()?;
    writer.set_pids(None, Some(server.pid()))?;
    let mut ending =
        readiness::wait_ready(&mut server, &probe, opts.ready_timeout, &dir, &mut signals).await;

    // loadgen, then sampling. A failure here still stops the target and writes the run.
    let mut loadgen = None;
    let mut sampling: Option<Sampling> = None;
    if ending.is_none() {
        match plan.start_load(&server) {
            Ok((lg, s)) => {
                writer.set_pids(Some(lg.id()), None)?;
                loadgen = Some(lg);
                sampling = Some(s);
            }
            Err(e) => ending = Some(Ending::ChildFailed(format!("cannot start the load: {e}"))),
        }
    }

    let ending = match (ending, loadgen.as_mut()) {
        (Some(e), _) => e,
        (None, None) => Ending::Complete,
        (None, Some(lg)) => {
            let tick = || {
                if opts.progress {
                    let mut snap = sampling
                        .as_ref()
                        .map(Sampling::snapshot)
                        .unwrap_or_default();
                    snap.otlp_items = otlp_items(&store);
                    snap.events = store.stats().events.values().sum();
                    progress.tick(&snap);
                }
            };
            let max = opts.max_duration;
            watch::watch(lg, &mut server, &dir, started, max, &mut signals, tick).await
        }
    };
    progress.done();

    // Stop loadgen first (SIGTERM lets it write its record), then the target.
    if let Some(lg) = loadgen.as_mut() {
        children::stop(lg, opts.stop_grace);
    }
    server.stop(opts.stop_grace);
    if !matches!(ending, Ending::Signal(_)) {
        await_last_exports(&store, opts.otlp_grace).await;
    }
    let samples_error = sampling.and_then(Sampling::finish);
    receiver.shutdown().await;
    store.write_to(&dir, None)?;
    writer.finish(ending.reason_with(samples_error))?;
    Ok(LabOutcome {
        dir: root,
        ending,
        events: store.events().len(),
        loadgen_tail: tail(&dir.logs().join("loadgen.log"), 20),
    })
}
