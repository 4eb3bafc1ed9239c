//! How many CPUs a process may use: its affinity set, capped by its cgroup CPU quota
//! (v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`, the tightest on the way up).
//!
//! Utilisation is normalised by this capacity, not by the machine's core count: a
//! process pinned to one CPU of sixteen is saturated at 1.0 core, not at 1/16. The
//! client's and the server's CPU are compared against one threshold, so both are read
//! here, the same way.

use std::path::{Path, PathBuf};

/// Errors finding a process's capacity.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// `sched_getaffinity` failed (the process is gone, or not ours to see).
    #[error("sched_getaffinity({pid}): {source}")]
    Affinity {
        /// The process.
        pid: u32,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The CPU capacity of a process and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// CPUs in the affinity set.
    pub affinity_cpus: usize,
    /// The cgroup quota in CPUs (`quota / period`), when one is set.
    pub quota_cpus: Option<f64>,
}

impl Capacity {
    /// CPUs the process may use: the smaller of its affinity set and its quota.
    pub fn cpus(&self) -> f64 {
        let a = self.affinity_cpus.max(1) as f64;
        match self.quota_cpus {
            Some(q) if q > 0.0 => a.min(q),
            _ => a,
        }
    }
}

/// The capacity of process `pid` (affinity via `sched_getaffinity`, quota from its cgroup).
pub fn capacity(pid: u32) -> Result<Capacity, CapacityError> {
    let affinity_cpus = affinity_count(pid)?;
    let quota_cpus = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|c| cgroup_quota(&c, Path::new("/sys/fs/cgroup")));
    Ok(Capacity {
        affinity_cpus,
        quota_cpus,
    })
}

/// CPUs the calling process may use (at least 0.01, so it can divide): the same rule as
/// [`capacity`], for `loadgen` and `target-api` reading their own.
pub fn own_cpus() -> f64 {
    capacity(std::process::id())
        .map_or_else(
            |_| std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            |c| c.cpus(),
        )
        .max(0.01)
}

/// CPUs in the affinity set of `pid`.
pub fn affinity_count(pid: u32) -> Result<usize, CapacityError> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set, and the kernel
    // writes at most size_of::<cpu_set_t>() bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let rc = libc::sched_getaffinity(
            pid as libc::pid_t,
            std::mem::size_of::<libc::cpu_set_t>(),
            &mut set,
        );
        if rc != 0 {
            return Err(CapacityError::Affinity {
                pid,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(libc::CPU_COUNT(&set) as usize)
    }
}

/// Parse a cgroup v2 `cpu.max` (`"max 100000"` → none, `"50000 100000"` → 0.5 CPU).
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

/// Parse cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (`-1` → none).
pub fn parse_cfs(quota_us: &str, period_us: &str) -> Option<f64> {
    let quota: i64 = quota_us.trim().parse().ok()?;
    let period: i64 = period_us.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// The cgroup paths of a process from `/proc/PID/cgroup`: the v2 path (`0::/path`) and the
/// v1 path of the `cpu` controller.
pub fn parse_proc_cgroup(text: &str) -> (Option<String>, Option<String>) {
    let mut v2 = None;
    let mut v1 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && ctrls.is_empty() {
            v2 = Some(path.to_string());
        } else if ctrls.split(',').any(|c| c == "cpu") {
            v1 = Some(format!("{ctrls}{path}"));
        }
    }
    (v2, v1)
}

/// The tightest CPU quota on the way from the process's cgroup up to the root, reading
/// the cgroup files under `root` (normally `/sys/fs/cgroup`).
pub fn cgroup_quota(proc_cgroup: &str, root: &Path) -> Option<f64> {
    let (v2, v1) = parse_proc_cgroup(proc_cgroup);
    let mut best: Option<f64> = None;
    let mut take = |q: Option<f64>| {
        if let Some(q) = q {
            best = Some(best.map_or(q, |b: f64| b.min(q)));
        }
    };
    if let Some(path) = v2 {
        // Pure v2 mounts at `root`; the hybrid layout mounts it at `root/unified`.
        let v2_root = if root.join("cgroup.controllers").exists() {
            root.to_path_buf()
        } else {
            root.join("unified")
        };
        for dir in ancestors(&v2_root, &path) {
            take(
                std::fs::read_to_string(dir.join("cpu.max"))
                    .ok()
                    .and_then(|t| parse_cpu_max(&t)),
            );
        }
    }
    if let Some(path) = v1 {
        // `path` is "controllers/path"; the mount is named after the controller list
        // (`cpu,cpuacct`) or is just `cpu`.
        let (ctrls, rest) = path.split_once('/').unwrap_or((path.as_str(), ""));
        let mount = if root.join(ctrls).exists() {
            root.join(ctrls)
        } else {
            root.join("cpu")
        };
        for dir in ancestors(&mount, rest) {
            let q = std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok();
            let p = std::fs::read_to_string(dir.join("cpu.cfs_period_us")).ok();
            if let (Some(q), Some(p)) = (q, p) {
                take(parse_cfs(&q, &p));
            }
        }
    }
    best
}

/// `root/path`, then each parent up to and including `root`.
fn ancestors(root: &Path, path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    let mut dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut out = vec![dir.clone()];
    while dir != root {
        match dir.parent() {
            Some(p) if p.starts_with(root) => {
                dir = p.to_path_buf();
                out.push(dir.clone());
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn cpu_max_parsing() {
        assert_eq!(parse_cpu_max(&fixture("cgroup2-cpu.max-unlimited")), None);
        assert_eq!(parse_cpu_max(&fixture("cgroup2-cpu.max-half")), Some(0.5));
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("garbage"), None);
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn cfs_parsing() {
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("200000\n", "100000\n"), Some(2.0));
        assert_eq!(parse_cfs("x", "100000"), None);
    }

    #[test]
    fn proc_cgroup_v1_and_v2() {
        let (v2, v1) = parse_proc_cgroup(&fixture("proc-cgroup-v2"));
        assert_eq!(v2.as_deref(), Some("/system.slice/satlab.service"));
        assert_eq!(v1, None);
        // Captured from a hybrid (v1 + unified v2) host.
        let (v2, v1) = parse_proc_cgroup(&fixture("proc-cgroup-hybrid"));
        assert_eq!(v2.as_deref(), Some("/"));
        assert_eq!(v1.as_deref(), Some("cpu/"));
    }

    #[test]
    fn quota_walks_up_and_takes_the_tightest() {
        let root = tempfile::tempdir().unwrap();
        let leaf = root.path().join("a/b");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu\n").unwrap();
        std::fs::write(root.path().join("cpu.max"), "max 100000\n").unwrap();
        std::fs::write(root.path().join("a/cpu.max"), "50000 100000\n").unwrap();
        std::fs::write(leaf.join("cpu.max"), "200000 100000\n").unwrap();
        assert_eq!(cgroup_quota("0::/a/b\n", root.path()), Some(0.5));
        assert_eq!(cgroup_quota("0::/\n", root.path()), None);
        // v1: cpu,cpuacct hierarchy
        let v1 = root.path().join("cpu,cpuacct/svc");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("cpu.cfs_quota_us"), "25000\n").unwrap();
        std::fs::write(v1.join("cpu.cfs_period_us"), "100000\n").unwrap();
        assert_eq!(
            cgroup_quota("4:cpu,cpuacct:/svc\n", root.path()),
            Some(0.25)
        );
    }

    #[test]
    fn capacity_is_min_of_affinity_and_quota() {
        let c = Capacity {
            affinity_cpus: 4,
            quota_cpus: Some(1.5),
        };
        assert_eq!(c.cpus(), 1.5);
        let c = Capacity {
            affinity_cpus: 1,
            quota_cpus: Some(2.0),
        };
        assert_eq!(c.cpus(), 1.0);
        let c = Capacity {
            affinity_cpus: 2,
            quota_cpus: None,
        };
        assert_eq!(c.cpus(), 2.0);
    }

    #[test]
    fn own_affinity_is_at_least_one_cpu() {
        let n = affinity_count(std::process::id()).unwrap();
        assert!(n >= 1);
        assert!(capacity(std::process::id()).unwrap().cpus() >= 0.01);
        assert!(affinity_count(u32::MAX / 2).is_err());
        let own = own_cpus();
        assert!(own >= 0.01 && own <= n as f64);
    }
}
