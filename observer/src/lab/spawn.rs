//! Starting the children of a run: each one's program (a given one, or this executable in
//! its role), its arguments from the scenario, its log file, its OTLP environment pointed
//! at the lab's receiver, and its CPU pinning and process-group setup
//! ([`crate::children`]); loadgen's start also starts the sampling of both.

use super::logs::log_file;
use super::options::LabOptions;
use super::sampling::Sampling;
use crate::children;
use crate::error::LabError;
use crate::scenario::Scenario;
use satlab_record::RunDir;
use satlab_record::samples::Role;
use satlab_record::telemetry as tel;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

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
    /// Where target-api listens.
    pub target_addr: SocketAddr,
}

impl ChildPlan<'_> {
    /// Start target-api, listening on `target_addr`.
    pub fn spawn_target(&self) -> Result<Child, LabError> {
        let mut cmd = command(&self.opts.target_bin, "target-api")?;
        cmd.arg("--listen")
            .arg(self.target_addr.to_string())
            .args(&self.scenario.target.args)
            .stdin(Stdio::null());
        let (o, e) = log_file(self.dir, "target-api.log")?;
        cmd.stdout(o).stderr(e);
        otel_env(&mut cmd, self.otlp, tel::SERVICE_TARGET);
        let pin = self.scenario.pin.as_ref().and_then(|p| p.server.as_deref());
        children::configure(&mut cmd, pin)?;
        Ok(children::spawn(&mut cmd)?)
    }

    /// Start loadgen against `target`, then the sampling of both. When sampling cannot
    /// start, loadgen is stopped again.
    pub fn start_load(&self, target: &Child) -> Result<(Child, Sampling), LabError> {
        let mut cmd = command(&self.opts.loadgen_bin, "loadgen")?;
        cmd.arg(format!("http://{}/api/vector/add", self.target_addr))
            .arg("--out")
            .arg(self.dir.loadgen().dir())
            .args(&self.scenario.load.args)
            .stdin(Stdio::null());
        let (o, e) = log_file(self.dir, "loadgen.log")?;
        cmd.stdout(o).stderr(e);
        otel_env(&mut cmd, self.otlp, tel::SERVICE_LOADGEN);
        let pin = self.scenario.pin.as_ref().and_then(|p| p.client.as_deref());
        children::configure(&mut cmd, pin)?;
        let mut loadgen = children::spawn(&mut cmd)?;
        // The observer samples itself too, so the diagnosis can tell its cost (receiving
        // every span) from other programs' on the machine.
        let targets = vec![
            (Role::Client, loadgen.id()),
            (Role::Server, target.id()),
            (Role::Observer, std::process::id()),
        ];
        match Sampling::start(self.dir, targets, target.id(), self.opts.hz) {
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
