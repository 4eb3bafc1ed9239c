//! Child processes of the lab: their own process group, sent SIGTERM when the observer
//! dies (`PR_SET_PDEATHSIG`), optionally pinned to CPUs, stopped with SIGTERM then SIGKILL.
//!
//! SIGTERM rather than SIGKILL on the observer's death: loadgen then writes its record
//! (marked interrupted) and target-api drains its in-flight requests (bounded by its
//! `--drain-timeout`) before both exit. A child that ignored SIGTERM would outlive a
//! killed observer; the lab's own stop ([`stop`]) still ends with SIGKILL.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Errors managing a child.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A CPU index is beyond what `cpu_set_t` can hold.
    #[error("CPU {0} is out of range (0–{max})", max = libc::CPU_SETSIZE - 1)]
    Cpu(usize),
}

/// Prepare `cmd` so the child leads its own process group, gets SIGTERM when the observer
/// dies, and (when `cpus` is given) runs only on those CPUs.
pub fn configure(cmd: &mut Command, cpus: Option<&[usize]>) -> Result<(), ChildError> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let pin = match cpus {
        Some(list) => {
            for &c in list {
                if c >= libc::CPU_SETSIZE as usize {
                    return Err(ChildError::Cpu(c));
                }
                // SAFETY: the index is checked against CPU_SETSIZE above.
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            true
        }
        None => false,
    };
    let parent = std::process::id();
    // SAFETY: the closure only calls async-signal-safe functions (setpgid, prctl,
    // getppid, sched_setaffinity) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The observer may have died between fork and prctl.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            if pin && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// Spawn a configured command.
pub fn spawn(cmd: &mut Command) -> Result<Child, ChildError> {
    cmd.spawn().map_err(|source| ChildError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// How a child ended, in words: `exit status 1`, `signal 9`.
pub fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

/// Send `sig` to the process group led by `pid`.
pub fn signal_group(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; a stale group fails with ESRCH.
    unsafe {
        libc::kill(-(pid as libc::pid_t), sig);
    }
}

/// Stop a child: SIGTERM to its group, wait up to `grace`, then SIGKILL and reap.
/// Returns its exit status.
pub fn stop(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(st)) = child.try_wait() {
        signal_group(child.id(), libc::SIGKILL);
        return Some(st);
    }
    signal_group(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            // Anything the child left behind in its group goes too.
            signal_group(child.id(), libc::SIGKILL);
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(child.id(), libc::SIGKILL);
    let _ = child.kill();
    child.wait().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_kills_a_child_that_ignores_sigterm() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; while :; do sleep 0.05; done"]);
        configure(&mut cmd, None).unwrap();
        let mut child = spawn(&mut cmd).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let st = stop(&mut child, Duration::from_millis(200)).unwrap();
        assert!(!st.success());
        assert!(!crate::sampler::alive(child.id()));
    }

    #[test]
    fn pinning_sets_affinity_and_bad_cpu_is_an_error() {
        let mut cmd = Command::new("sleep");
        cmd.arg("5");
        configure(&mut cmd, Some(&[0])).unwrap();
        let mut child = spawn(&mut cmd).unwrap();
        assert_eq!(
            satlab_common::capacity::affinity_count(child.id()).unwrap(),
            1
        );
        stop(&mut child, Duration::from_millis(500));
        let mut cmd = Command::new("true");
        assert!(matches!(
            configure(&mut cmd, Some(&[100_000])),
            Err(ChildError::Cpu(_))
        ));
        let mut cmd = Command::new("/nonexistent/satlab");
        assert!(
            spawn(&mut cmd)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/satlab")
        );
    }
}
