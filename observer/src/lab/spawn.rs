//! Starting the children of a run: each one's program (a given one, or this executable in
//! its role; another service's command under `observer guard`), its arguments from the
//! scenario or the command line, its log file, its OTLP environment pointed at the lab's
//! receiver, and its CPU pinning and process-group setup ([`crate::children`]); loadgen's
//! start also starts the sampling of both.

use super::logs::log_file;
use super::options::LabOptions;
use super::readiness::Probe;
use super::sampling::Sampling;
use super::server::Server;
use super::target::{CommandTarget, TargetChoice, http_addr};
use crate::children;
use crate::error::LabError;
use crate::sampler::Sampled;
use crate::scenario::Scenario;
use satlab_record::RunDir;
use satlab_record::samples::Role;
use satlab_record::telemetry as tel;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free loopback TCP port (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// What the children of one run are started with.
#[derive(Debug, Clone, Copy)]
pub struct ChildPlan<'a> {
    /// The run's options (programs, sampling rate, grace).
    pub opts: &'a LabOptions,
    /// The scenario (arguments, pinning).
    pub scenario: &'a Scenario,
    /// The run directory (logs, loadgen's record, samples).
    pub dir: &'a RunDir,
    /// The lab's OTLP gRPC receiver.
    pub otlp: SocketAddr,
    /// The server, with `{port}` already replaced.
    pub target: &'a TargetChoice,
    /// The free port target-api listens on (or `{port}` stood for).
    pub port: u16,
}

impl ChildPlan<'_> {
    /// The URL loadgen loads.
    pub fn url(&self) -> String {
        match self.target {
            TargetChoice::BuiltIn => format!("http://127.0.0.1:{}/api/vector/add", self.port),
            TargetChoice::Command(c) => c.url.clone(),
            TargetChoice::Attach { url, .. } => url.clone(),
        }
    }

    /// How readiness is probed.
    pub fn probe(&self) -> Result<Probe, LabError> {
        let (addr, path, strict) = match self.target {
            TargetChoice::BuiltIn => (([127, 0, 0, 1], self.port).into(), "/readyz".into(), true),
            TargetChoice::Command(CommandTarget { ready: u, .. })
            | TargetChoice::Attach { url: u, .. } => {
                let (addr, path) = http_addr(u).map_err(LabError::Target)?;
                (addr, path, false)
            }
        };
        Ok(Probe { addr, path, strict })
    }

    /// Start the server (target-api, or another service's command under guard), or take
    /// the attached process.
    pub fn start_server(&self) -> Result<Server, LabError> {
        let pin = self.scenario.pin.as_ref().and_then(|p| p.server.as_deref());
        let (mut cmd, name) = match self.target {
            TargetChoice::Attach { pid, .. } => return Ok(Server::Attached { pid: *pid }),
            TargetChoice::BuiltIn => {
                let mut cmd = command(&self.opts.target_bin, "target-api")?;
                cmd.arg("--listen")
                    .arg(format!("127.0.0.1:{}", self.port))
                    .args(&self.scenario.target.args);
                otel_env(&mut cmd, self.otlp, tel::SERVICE_TARGET);
                (cmd, tel::SERVICE_TARGET.to_string())
            }
            TargetChoice::Command(c) => {
                let mut cmd = command(&None, "guard")?;
                // The guard's own grace ends before the lab's SIGKILL of its group.
                let grace = self
                    .opts
                    .stop_grace
                    .saturating_sub(Duration::from_secs(1))
                    .max(Duration::from_millis(500));
                cmd.arg("--grace")
                    .arg(format!("{}ms", grace.as_millis()))
                    .args(["--", "sh", "-c", &c.cmd])
                    .current_dir(&c.cwd);
                otel_env(&mut cmd, self.otlp, &c.service);
                (cmd, c.service.clone())
            }
        };
        let log = match self.target {
            TargetChoice::Command(_) => "service.log".to_string(),
            _ => format!("{name}.log"),
        };
        cmd.stdin(Stdio::null());
        let (o, e) = log_file(self.dir, &log)?;
        cmd.stdout(o).stderr(e);
        children::configure(&mut cmd, pin)?;
        let child = children::spawn(&mut cmd)?;
        Ok(Server::Child { child, name, log })
    }

    /// Start loadgen against the server, then the sampling of both. When sampling cannot
    /// start, loadgen is stopped again.
    pub fn start_load(&self, server: &Server) -> Result<(Child, Sampling), LabError> {
        let mut cmd = command(&self.opts.loadgen_bin, "loadgen")?;
        let args = self
            .opts
            .load_args
            .as_ref()
            .unwrap_or(&self.scenario.load.args);
        cmd.arg(self.url())
            .arg("--out")
            .arg(self.dir.loadgen().dir())
            .args(args)
            .stdin(Stdio::null());
        let (o, e) = log_file(self.dir, "loadgen.log")?;
        cmd.stdout(o).stderr(e);
        otel_env(&mut cmd, self.otlp, tel::SERVICE_LOADGEN);
        let pin = self.scenario.pin.as_ref().and_then(|p| p.client.as_deref());
        children::configure(&mut cmd, pin)?;
        let mut loadgen = children::spawn(&mut cmd)?;
        // The observer samples itself too, so the diagnosis can tell its cost (receiving
        // every span) from other programs' on the machine.
        let server_how = match self.target {
            TargetChoice::BuiltIn => Sampled::Process,
            TargetChoice::Command(_) | TargetChoice::Attach { .. } => Sampled::Tree,
        };
        let targets = vec![
            (Role::Client, loadgen.id(), Sampled::Process),
            (Role::Server, server.pid(), server_how),
            (Role::Observer, std::process::id(), Sampled::Process),
        ];
        match Sampling::start(self.dir, targets, server.pid(), self.opts.hz) {
            Ok(sampling) => Ok((loadgen, sampling)),
            Err(e) => {
                children::stop(&mut loadgen, self.opts.stop_grace);
                Err(e)
            }
        }
    }
}

/// `bin`, or this executable in `role`.
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

/// Point a child's OTLP at the lab's receiver, with short export intervals.
fn otel_env(cmd: &mut Command, grpc: SocketAddr, service: &str) {
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{grpc}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "200")
        .env("OTEL_BSP_SCHEDULE_DELAY", "500")
        .env("OTEL_SERVICE_NAME", service);
}
