//! The server of a running lab: a child the lab started (target-api, or another service
//! under `observer guard`), or a process it attached to. Either can be watched for its
//! end; only a child is stopped.

use crate::children::{self, describe};
use std::process::Child;
use std::time::Duration;

/// The server of a run.
#[derive(Debug)]
pub enum Server {
    /// A child of the lab.
    Child {
        /// The process (for another service: its guard).
        child: Child,
        /// What to call it: `target-api`, or the service's name.
        name: String,
        /// Its log file's name under `logs/`.
        log: String,
    },
    /// A process the lab attached to.
    Attached {
        /// Its PID.
        pid: u32,
    },
}

impl Server {
    /// The PID sampled as the server (with its descendants for another service).
    pub fn pid(&self) -> u32 {
        match self {
            Server::Child { child, .. } => child.id(),
            Server::Attached { pid } => *pid,
        }
    }

    /// What to call it in messages.
    pub fn name(&self) -> String {
        match self {
            Server::Child { name, .. } => name.clone(),
            Server::Attached { pid } => format!("the process {pid}"),
        }
    }

    /// Its log file's name under `logs/` (none for an attached process).
    pub fn log(&self) -> Option<&str> {
        match self {
            Server::Child { log, .. } => Some(log),
            Server::Attached { .. } => None,
        }
    }

    /// How it ended, once it has: `exit status 1`, `signal 9`, `gone`.
    pub fn ended(&mut self) -> Option<String> {
        match self {
            Server::Child { child, .. } => child.try_wait().ok().flatten().map(describe),
            Server::Attached { pid } => (!crate::sampler::alive(*pid)).then(|| "gone".into()),
        }
    }

    /// Stop a child (SIGTERM to its group, SIGKILL after `grace`); an attached process is
    /// left running.
    pub fn stop(&mut self, grace: Duration) {
        if let Server::Child { child, .. } = self {
            children::stop(child, grace);
        }
    }
}
