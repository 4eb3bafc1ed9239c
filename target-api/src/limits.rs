//! Process limits: the open-files limit (`setrlimit`) and the CPU capacity the process may
//! use (affinity set, capped by cgroup v2 `cpu.max`).

/// Errors changing a process limit.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The requested soft limit is above the hard limit.
    #[error(
        "--max-open-files {requested} is above the hard limit {hard} (raise it with `ulimit -Hn` as root)"
    )]
    AboveHard {
        /// Requested soft limit.
        requested: u64,
        /// Current hard limit.
        hard: u64,
    },
    /// The system call failed.
    #[error("setrlimit(RLIMIT_NOFILE, {requested}): {source}")]
    Os {
        /// Requested soft limit.
        requested: u64,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The current (soft, hard) open-files limit.
pub fn open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Ok((rl.rlim_cur as u64, rl.rlim_max as u64))
}

/// Set the soft open-files limit to `soft` (the hard limit is kept), starving the server
/// of sockets when it is low.
pub fn set_open_files_limit(soft: u64) -> Result<(), LimitError> {
    let (_, hard) = open_files_limit().map_err(|source| LimitError::Os {
        requested: soft,
        source,
    })?;
    if soft > hard {
        return Err(LimitError::AboveHard {
            requested: soft,
            hard,
        });
    }
    let rl = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
    if rc != 0 {
        return Err(LimitError::Os {
            requested: soft,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// CPUs in this process's affinity set.
pub fn affinity_cpus() -> usize {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let n = libc::CPU_COUNT(&set);
            if n > 0 {
                return n as usize;
            }
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parse a cgroup v2 `cpu.max` line (`"max 100000"` or `"150000 100000"`) into CPUs.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    Some(quota / period)
}

fn cgroup_cpu_max() -> Option<f64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let path = format!("/sys/fs/cgroup{}/cpu.max", rel.trim_end_matches('/'));
    let text = std::fs::read_to_string(path)
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/cpu.max"))
        .ok()?;
    parse_cpu_max(&text)
}

/// CPUs this process may use: the affinity count, capped by the cgroup v2 quota.
pub fn cpu_capacity() -> f64 {
    let cpus = affinity_cpus() as f64;
    match cgroup_cpu_max() {
        Some(q) if q > 0.0 => cpus.min(q),
        _ => cpus,
    }
}

/// CPU time used by this process so far (user + system), in seconds.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_parsing() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("garbage"), None);
    }

    #[test]
    fn capacity_is_positive_and_at_most_affinity() {
        let c = cpu_capacity();
        assert!(c > 0.0 && c <= affinity_cpus() as f64);
    }

    #[test]
    fn open_files_limit_is_readable() {
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft <= hard);
        if hard < u64::MAX {
            assert!(matches!(
                set_open_files_limit(hard + 1),
                Err(LimitError::AboveHard { .. })
            ));
        }
    }
}
