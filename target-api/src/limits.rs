//! The open-files limit (`setrlimit`), lowered on request to starve the server of sockets.
//! (The CPUs the process may use come from `satlab_common::capacity`.)

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

#[cfg(test)]
mod tests {
    use super::*;

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
