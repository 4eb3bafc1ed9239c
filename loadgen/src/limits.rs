//! RLIMIT_NOFILE: raise the soft limit to the hard limit at start, and refuse a plan whose
//! concurrency cannot fit it.

/// File descriptors kept for everything but load sockets (files, epoll, telemetry).
pub const FD_RESERVE: u64 = 64;

/// The plan needs more descriptors than the hard limit allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plan needs about {needed} file descriptors ({concurrency} concurrent connections + {FD_RESERVE} spare) but RLIMIT_NOFILE allows {limit}; raise the hard limit (e.g. `ulimit -Hn {needed}` as root, or LimitNOFILE= in a systemd unit, or --ulimit nofile={needed} in docker) or lower the concurrency"
)]
pub struct FdLimitError {
    /// Descriptors the plan needs.
    pub needed: u64,
    /// Peak concurrency of the plan.
    pub concurrency: u64,
    /// The limit after raising.
    pub limit: u64,
}

/// Current (soft, hard) RLIMIT_NOFILE.
pub fn nofile() -> (u64, u64) {
    // SAFETY: getrlimit fills the struct it is given.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return (1024, 1024);
        }
        (r.rlim_cur, r.rlim_max)
    }
}

/// Raise the soft limit to the hard limit; returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    let (soft, hard) = nofile();
    if soft >= hard {
        return soft;
    }
    let r = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0 {
        hard
    } else {
        soft
    }
}

/// Check that `concurrency` connections fit in `limit` descriptors.
pub fn check_fits(concurrency: u64, limit: u64) -> Result<(), FdLimitError> {
    let needed = concurrency + FD_RESERVE;
    if needed > limit {
        return Err(FdLimitError {
            needed,
            concurrency,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_names_the_fix() {
        assert!(check_fits(100, 1024).is_ok());
        let e = check_fits(5000, 1024).unwrap_err().to_string();
        assert!(e.contains("5064") && e.contains("ulimit -Hn"), "{e}");
        let raised = raise_nofile();
        assert_eq!(raised, nofile().0);
    }
}
