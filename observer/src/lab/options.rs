//! What a lab run is asked to do: the scenario, the server (target-api, another service's
//! command, or a running process), where to write, which programs to run, how often to
//! sample, how long to wait, and which network to use.

use crate::sampler;
use std::path::PathBuf;
use std::time::Duration;

/// Options of one lab run.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Scenario name or file; default: `gc-spikes` for target-api, a doubling-concurrency
    /// plan ([`crate::scenario::Scenario::any_service`]) for another service.
    pub scenario: Option<String>,
    /// Another service's command line, started with `sh -c` (`{port}`: a free port).
    pub target_cmd: Option<String>,
    /// The URL to load, for another service.
    pub url: Option<String>,
    /// The URL that answers once that service is ready (default: `url`).
    pub ready_url: Option<String>,
    /// A running process to attach to instead of starting one.
    pub target_pid: Option<u32>,
    /// loadgen arguments replacing the scenario's `[load] args`.
    pub load_args: Option<Vec<String>>,
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
            scenario: None,
            target_cmd: None,
            url: None,
            ready_url: None,
            target_pid: None,
            load_args: None,
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
