//! `observer guard -- PROGRAM ARGS…`: runs a third-party server for the lab so that no
//! process of it outlives the run, even when the observer is killed with SIGKILL.
//!
//! The lab starts the guard as a child in its own process group with SIGTERM as its
//! parent-death signal ([`crate::children`]). The guard makes itself a child subreaper
//! (an orphaned grandchild, such as a daemonised worker, is re-parented to it and stays
//! in its tree), starts the program in its process group, and waits. On SIGTERM, SIGINT
//! or SIGHUP — the lab stopping the run, or the observer's death — or when the program
//! exits, it sends SIGTERM to its group and to every descendant, waits up to the grace,
//! then SIGKILLs what is left, and exits with the program's status.

use crate::process_tree;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// Arguments of `observer guard`.
#[derive(Debug, Clone, clap::Args)]
pub struct GuardArgs {
    /// How long the program's processes get to exit after SIGTERM before SIGKILL.
    #[arg(long, default_value = "5s", value_parser = satlab_common::duration::parse_positive_duration)]
    pub grace: Duration,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Errors of the guard.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

fn os(what: &'static str) -> GuardError {
    GuardError::Os {
        what,
        source: std::io::Error::last_os_error(),
    }
}

/// Run the program under guard; returns the exit code to leave with (the program's, or
/// 128 + the signal that ended it).
pub fn run(args: &GuardArgs) -> Result<u8, GuardError> {
    // SAFETY: prctl and sigprocmask have no memory preconditions; the set is initialised
    // by sigemptyset before use.
    let set = unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(os("cannot become a child subreaper"));
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(os("cannot block signals"));
        }
        set
    };
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    // SAFETY: between fork and exec only pthread_sigmask (async-signal-safe) runs; the
    // program must not inherit the guard's blocked signals.
    unsafe {
        cmd.pre_exec(move || {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| GuardError::Os {
        what: "cannot start the program",
        source,
    })?;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        // SAFETY: set is a valid, initialised signal set; info may be null.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
        if matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGHUP) {
            break None;
        }
        reap_orphans(child.id());
    };
    let status = stop_tree(&mut child, args.grace).or(status);
    Ok(exit_code(status))
}

/// SIGTERM to the group and every descendant, up to `grace` for the program to exit, then
/// SIGKILL to what is left; the program's status.
fn stop_tree(child: &mut std::process::Child, grace: Duration) -> Option<ExitStatus> {
    let me = std::process::id();
    signal_all(me, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    let mut status = None;
    while Instant::now() < deadline {
        if status.is_none() {
            status = child.try_wait().ok().flatten();
        }
        reap_orphans(child.id());
        if status.is_some() && process_tree::tree(me).len() <= 1 {
            return status;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_all(me, libc::SIGKILL);
    let status = status.or_else(|| child.wait().ok());
    // Reap the rest so none is left a zombie of a guard about to exit.
    let end = Instant::now() + Duration::from_secs(1);
    while process_tree::tree(me).len() > 1 && Instant::now() < end {
        reap_orphans(child.id());
        std::thread::sleep(Duration::from_millis(10));
    }
    status
}

/// Send `sig` to the guard's process group (not the guard: it has the signal blocked or
/// is about to exit) and to every descendant, including those in other groups.
fn signal_all(me: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-(me as libc::pid_t), sig);
    }
    for pid in process_tree::tree(me).into_iter().skip(1) {
        // SAFETY: as above; a PID gone meanwhile fails with ESRCH.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// Reap exited orphans re-parented to the guard, leaving the program itself to `Child`.
fn reap_orphans(program: u32) {
    for pid in process_tree::tree(std::process::id()).into_iter().skip(1) {
        if pid == program {
            continue;
        }
        let mut st = 0;
        // SAFETY: waitpid on a specific PID with WNOHANG; ECHILD when it is not our child.
        unsafe {
            libc::waitpid(pid as libc::pid_t, &mut st, libc::WNOHANG);
        }
    }
}

fn exit_code(status: Option<ExitStatus>) -> u8 {
    match status {
        Some(st) => match (st.code(), st.signal()) {
            (Some(c), _) => c.clamp(0, 255) as u8,
            (None, Some(s)) => (128 + s).clamp(0, 255) as u8,
            _ => 1,
        },
        None => 1,
    }
}
