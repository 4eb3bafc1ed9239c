//! CPU normalisation: a busy loop pinned to one CPU reads ≈ 1.0 of its capacity, whatever
//! the machine's core count; its one thread reads what the process reads.

use observer::children;
use observer::sampler::{Sampled, Sampler};
use satlab_record::samples::Role;
use std::process::Command;
use std::time::Duration;

/// (time on CPU, time waiting to run), ns, from /proc/PID/schedstat.
fn schedstat(pid: u32) -> (u64, u64) {
    let t = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap_or_default();
    let mut it = t.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn busy_loop_pinned_to_one_cpu_reads_one_of_its_capacity() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "while :; do :; done"]);
    children::configure(&mut cmd, Some(&[0])).unwrap();
    let mut child = children::spawn(&mut cmd).unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(100));
    let mut s = Sampler::new(&[(Role::Server, pid, Sampled::Process)]).unwrap();
    let (first, _) = s.sample();
    assert!(first.is_empty(), "the first sample only sets the baseline");
    let (run0, wait0) = schedstat(pid);
    let mut utils = Vec::new();
    let mut caps = Vec::new();
    let mut process_cores = 0.0;
    let mut thread_cores = 0.0;
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(100));
        let (p, sys) = s.sample();
        assert!(sys.cpu_util >= 0.0 && sys.cpu_util <= 1.0);
        for x in p {
            utils.push(x.cpu_util);
            caps.push(x.cpu_capacity);
            assert!(x.open_fds >= 1 && x.threads == 1 && x.rss_bytes > 0);
            assert!(x.thread_cpu.len() <= 1, "one thread: {:?}", x.thread_cpu);
            assert!(x.thread_cpu.iter().all(|t| t.tid == pid && t.name == "sh"));
            assert!(x.run_queue_wait.is_none_or(|w| w >= 0.0 && w.is_finite()));
            process_cores += x.cpu_cores;
            thread_cores += x.thread_cpu.iter().map(|t| t.cpu_cores).sum::<f64>();
        }
    }
    let (run1, wait1) = schedstat(pid);
    children::stop(&mut child, Duration::from_millis(500));
    assert!(
        caps.iter().all(|c| *c == 1.0),
        "capacity is the one pinned CPU: {caps:?}"
    );
    let mean = utils.iter().sum::<f64>() / utils.len() as f64;
    // The same ticks read per thread and per process, at slightly different instants: one
    // 10 ms tick per 100 ms sample apart at most, so their means agree within 0.1 core.
    let n = utils.len() as f64;
    assert!(
        (thread_cores / n - process_cores / n).abs() < 0.1,
        "thread {:.3} vs process {:.3} cores",
        thread_cores / n,
        process_cores / n
    );
    // On a shared machine other work may take part of CPU 0; the kernel's own account of
    // time spent runnable-but-waiting says how much, so the expectation allows for it.
    let (ran, waited) = ((run1 - run0) as f64, (wait1 - wait0) as f64);
    let share = if ran + waited > 0.0 {
        ran / (ran + waited)
    } else {
        1.0
    };
    assert!(
        mean >= 0.85 * share && mean <= 1.05,
        "busy loop read {mean:.3} of its capacity (share of CPU 0 it could get: {share:.3}); samples {utils:?}"
    );
}

/// A shell whose two children spin: sampled as a process the shell reads about nothing;
/// sampled as a tree it reads its children's CPU.
#[test]
fn a_tree_reads_its_childrens_cpu_and_the_wrapper_alone_does_not() {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "sh -c 'while :; do :; done' & sh -c 'while :; do :; done' & wait",
    ]);
    children::configure(&mut cmd, Some(&[0])).unwrap();
    let mut child = children::spawn(&mut cmd).unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(200));
    let mut s = Sampler::new(&[
        (Role::Server, pid, Sampled::Process),
        (Role::Client, pid, Sampled::Tree),
    ])
    .unwrap();
    s.sample();
    let (mut process, mut tree) = (0.0, 0.0);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        let (samples, _) = s.sample();
        for p in samples {
            match p.role {
                Role::Server => process += p.cpu_cores / 10.0,
                _ => tree += p.cpu_cores / 10.0,
            }
        }
    }
    children::stop(&mut child, Duration::from_millis(500));
    // Both spinners share CPU 0: the tree reads up to one core, less on a busy machine.
    assert!(process < 0.1, "the wrapper alone read {process:.2} cores");
    assert!(tree > 0.3, "the tree read {tree:.2} cores");
}
