//! A private network namespace for a lab run: `unshare(CLONE_NEWNET)` of the observer
//! itself (before any thread starts, so its children and its OTLP receiver share it),
//! loopback up, and the scenario's `net.*` sysctls written under `/proc/sys/net`.

use std::collections::BTreeMap;

/// Errors setting up the namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Not root.
    #[error(
        "this scenario runs in a private network namespace, which needs root: run `sudo observer lab ...` (or pick a scenario without [netns])"
    )]
    NotRoot,
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn sys(what: impl Into<String>) -> NetnsError {
    NetnsError::Sys {
        what: what.into(),
        source: std::io::Error::last_os_error(),
    }
}

/// The `/proc/sys` path of a `net.*` sysctl (`net.ipv4.tcp_fin_timeout` →
/// `/proc/sys/net/ipv4/tcp_fin_timeout`). Keys are validated by the scenario parser.
pub fn sysctl_path(key: &str) -> std::path::PathBuf {
    std::path::Path::new("/proc/sys").join(key.replace('.', "/"))
}

/// Move this process into a new network namespace, bring `lo` up and apply `sysctls`.
/// Call it while the process has a single thread.
pub fn enter_private(sysctls: &BTreeMap<String, String>) -> Result<(), NetnsError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(NetnsError::NotRoot);
    }
    // SAFETY: unshare only changes this thread's namespaces; the caller guarantees the
    // process is single-threaded, so every later thread and child inherits it.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(sys("unshare(CLONE_NEWNET)"));
    }
    loopback_up()?;
    for (k, v) in sysctls {
        let p = sysctl_path(k);
        std::fs::write(&p, format!("{v}\n")).map_err(|source| NetnsError::Sys {
            what: format!("set {k} = {v:?} ({})", p.display()),
            source,
        })?;
    }
    Ok(())
}

/// Bring the `lo` interface up (SIOCGIFFLAGS / SIOCSIFFLAGS).
pub fn loopback_up() -> Result<(), NetnsError> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq whose name is NUL-terminated;
    // the fd is closed on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(sys("socket for SIOCSIFFLAGS"));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            let e = sys("SIOCGIFFLAGS lo");
            libc::close(fd);
            return Err(e);
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
            let e = sys("SIOCSIFFLAGS lo up");
            libc::close(fd);
            return Err(e);
        }
        libc::close(fd);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_proc_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_local_port_range"),
            std::path::Path::new("/proc/sys/net/ipv4/ip_local_port_range")
        );
    }
}
