//! Process and system CPU sampling with sysinfo, normalised by each process's capacity;
//! each process's threads (busiest CPU, run-queue wait) come from [`crate::proc_threads`].
//! A target sampled as a tree ([`Sampled::Tree`]: a command the lab started, a process it
//! attached to) is the sum over the process and its descendants, rediscovered each time.

use crate::proc_threads::{ThreadTracker, read_tasks, ticks_per_second};
use crate::process_tree;
use crate::steal::CpuTicks;
use satlab_common::capacity;
use satlab_record::samples::{ProcessSample, Role, SystemSample};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use sysinfo::{CpuRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Default sampling rate, Hz.
pub const DEFAULT_HZ: f64 = 10.0;

/// Errors creating a sampler.
#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    /// sysinfo could not initialise.
    #[error("sysinfo: {0}")]
    Sysinfo(String),
    /// The sampling rate is out of range.
    #[error("sampling rate {0} Hz is out of range (0.1–1000)")]
    Rate(f64),
}

/// The sampling period for a rate in Hz (0.1–1000).
pub fn period(hz: f64) -> Result<Duration, SamplerError> {
    if !(0.1..=1000.0).contains(&hz) {
        return Err(SamplerError::Rate(hz));
    }
    Ok(Duration::from_secs_f64(1.0 / hz))
}

/// How a target's PID is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampled {
    /// The process alone.
    Process,
    /// The process and all its descendants, summed.
    Tree,
}

struct Target {
    role: Role,
    pid: u32,
    how: Sampled,
    /// Tree targets: each process's ticks at the last sample.
    tree_ticks: HashMap<u32, u64>,
    capacity: f64,
    capacity_at: Option<Instant>,
    prev: Option<(Instant, u64)>,
    threads: ThreadTracker,
    tasks_at: Option<Instant>,
}

/// Samples a set of processes and the whole machine.
pub struct Sampler {
    sys: System,
    targets: Vec<Target>,
    /// The machine's CPU ticks at the previous sample, for steal.
    ticks: Option<CpuTicks>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field(
                "pids",
                &self.targets.iter().map(|t| t.pid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// How often the capacity (affinity, quota) of a process is re-read.
const CAPACITY_REFRESH: Duration = Duration::from_secs(1);

impl Sampler {
    /// A sampler of `targets` (role, PID, how). The first [`Sampler::sample`] sets
    /// baselines.
    pub fn new(targets: &[(Role, u32, Sampled)]) -> Result<Self, SamplerError> {
        let sys = System::new().map_err(|e| SamplerError::Sysinfo(format!("{e:?}")))?;
        let mut s = Sampler {
            sys,
            targets: targets
                .iter()
                .map(|&(role, pid, how)| Target {
                    role,
                    pid,
                    how,
                    tree_ticks: HashMap::new(),
                    capacity: 1.0,
                    capacity_at: None,
                    prev: None,
                    threads: ThreadTracker::new(),
                    tasks_at: None,
                })
                .collect(),
            ticks: CpuTicks::read(),
        };
        s.sys
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        Ok(s)
    }

    /// Take one sample of every live target and of the system. Processes that have exited
    /// are left out; the first call returns no process samples (it sets the baselines).
    pub fn sample(&mut self) -> (Vec<ProcessSample>, SystemSample) {
        let members: Vec<Vec<u32>> = self
            .targets
            .iter()
            .map(|t| match t.how {
                Sampled::Process => vec![t.pid],
                Sampled::Tree => process_tree::tree(t.pid),
            })
            .collect();
        let pids: Vec<Pid> = members
            .iter()
            .flatten()
            .map(|&p| Pid::from_u32(p))
            .collect();
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        self.sys
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        let now = Instant::now();
        let t_unix_ns = satlab_record::now_unix_ns();
        let mut out = Vec::new();
        for (t, members) in self.targets.iter_mut().zip(&members) {
            let Some(p) = self.sys.process(Pid::from_u32(t.pid)) else {
                continue;
            };
            if t.capacity_at
                .is_none_or(|at| now.duration_since(at) >= CAPACITY_REFRESH)
            {
                if let Ok(c) = capacity::capacity(t.pid) {
                    t.capacity = c.cpus();
                }
                t.capacity_at = Some(now);
            }
            let cpu_ms = match t.how {
                Sampled::Process => p.accumulated_cpu_time(),
                Sampled::Tree => {
                    // A running total of the tree's ticks, in ms, so the delta below is
                    // the tree's CPU over the interval.
                    let now_ticks: Vec<(u32, u64)> = members
                        .iter()
                        .filter_map(|&m| process_tree::process_ticks(m).map(|k| (m, k)))
                        .collect();
                    let first = t.tree_ticks.is_empty();
                    let d = process_tree::tree_ticks_delta(&mut t.tree_ticks, &now_ticks);
                    let base = t.prev.map_or(0, |(_, ms)| ms);
                    if first {
                        0
                    } else {
                        base + (d as f64 * 1000.0 / ticks_per_second()) as u64
                    }
                }
            };
            let tasks: Vec<_> = members
                .iter()
                .flat_map(|&m| read_tasks(m).unwrap_or_default())
                .collect();
            let tasks_now = Instant::now();
            let tasks_s = t
                .tasks_at
                .replace(tasks_now)
                .map_or(0.0, |at| tasks_now.duration_since(at).as_secs_f64());
            let threads = t.threads.update(&tasks, tasks_s, ticks_per_second());
            let prev = t.prev.replace((now, cpu_ms));
            let Some((t0, ms0)) = prev else { continue };
            let wall = now.duration_since(t0).as_secs_f64();
            if wall <= 0.0 {
                continue;
            }
            let cpu_cores = cpu_ms.saturating_sub(ms0) as f64 / 1000.0 / wall;
            let threads_n: u32 = members.iter().map(|&m| read_status(m).threads).sum();
            let rss_bytes: u64 = members
                .iter()
                .filter_map(|&m| self.sys.process(Pid::from_u32(m)))
                .map(|m| m.memory())
                .sum();
            // The process nearest its fd limit speaks for the tree.
            let (open_fds, fd_limit) = members
                .iter()
                .map(|&m| (count_fds(m), soft_nofile(m).unwrap_or(0)))
                .max_by(|a, b| fd_share(*a).total_cmp(&fd_share(*b)))
                .unwrap_or((0, 0));
            out.push(ProcessSample {
                t_unix_ns,
                role: t.role,
                pid: t.pid,
                cpu_cores,
                cpu_capacity: t.capacity,
                cpu_util: cpu_cores / t.capacity,
                rss_bytes,
                threads: threads_n,
                open_fds,
                fd_limit,
                thread_cpu: threads.thread_cpu,
                run_queue_wait: threads.run_queue_wait,
            });
        }
        let per_cpu: Vec<f64> = self
            .sys
            .cpus()
            .iter()
            .map(|c| (c.usage() as f64 / 100.0).clamp(0.0, 1.0))
            .collect();
        let ticks = CpuTicks::read();
        let steal = match (ticks, self.ticks) {
            (Some(now), Some(then)) => now.steal_since(&then),
            _ => 0.0,
        };
        self.ticks = ticks;
        let system = SystemSample {
            t_unix_ns,
            cpu_util: (self.sys.global_cpu_usage() as f64 / 100.0).clamp(0.0, 1.0),
            per_cpu,
            steal,
        };
        (out, system)
    }

    /// True while at least one target is alive.
    pub fn any_alive(&self) -> bool {
        self.targets.iter().any(|t| alive(t.pid))
    }
}

/// Open fds as a share of the limit (0 when the limit is unknown).
fn fd_share((open, limit): (u32, u64)) -> f64 {
    if limit == 0 {
        0.0
    } else {
        open as f64 / limit as f64
    }
}

/// True when `/proc/PID` exists and the process is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Fields of `/proc/PID/status` the sampler uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// `Threads:`.
    pub threads: u32,
}

/// Parse `/proc/PID/status`.
pub fn parse_status(text: &str) -> Status {
    let threads = text
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Status { threads }
}

fn read_status(pid: u32) -> Status {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|t| parse_status(&t))
        .unwrap_or_default()
}

/// Open file descriptors of `pid` (entries of `/proc/PID/fd`).
pub fn count_fds(pid: u32) -> u32 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u32)
        .unwrap_or(0)
}

/// Parse the soft limit of `Max open files` from `/proc/PID/limits` (`unlimited` → u64::MAX).
pub fn parse_soft_nofile(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// Soft RLIMIT_NOFILE of `pid`.
pub fn soft_nofile(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|t| parse_soft_nofile(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn limits_and_status_fixtures() {
        let soft = parse_soft_nofile(&fixture("proc-limits")).unwrap();
        assert!(soft >= 64, "{soft}");
        assert_eq!(
            parse_soft_nofile(
                "Max open files            1024                 4096                 files\n"
            ),
            Some(1024)
        );
        assert_eq!(parse_soft_nofile("Max processes 1 1\n"), None);
        assert_eq!(parse_status(&fixture("proc-status")).threads, 1);
    }

    #[test]
    fn rate_bounds() {
        assert_eq!(period(10.0).unwrap(), Duration::from_millis(100));
        assert!(period(0.0).is_err());
        assert!(period(f64::NAN).is_err());
    }

    #[test]
    fn own_process_fds_and_liveness() {
        let me = std::process::id();
        assert!(count_fds(me) >= 3);
        assert!(alive(me));
        assert!(!alive(u32::MAX / 2));
    }
}
