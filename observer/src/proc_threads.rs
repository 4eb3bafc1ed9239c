//! A process's threads, from `/proc/PID/task/*`: each thread's name and CPU ticks
//! (`stat`) and its time waiting on a run queue (`schedstat`), and the per-thread deltas
//! between two readings: the busiest threads' CPU and the process's run-queue wait.

use satlab_record::samples::{MAX_THREAD_SAMPLES, ThreadCpu};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Threads using less than this many cores since the previous sample are left out of
/// [`ThreadDeltas::thread_cpu`]. At the default 10 Hz a single 10 ms tick already reads
/// 0.1 cores, so 0.01 leaves out only threads that did not run a whole tick (idle helpers,
/// blocked workers) while any thread that ran does not vanish from the list, even at 1 Hz.
pub const MIN_THREAD_CORES: f64 = 0.01;

/// One thread of a process, as read from `/proc/PID/task/TID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReading {
    /// Thread id.
    pub tid: u32,
    /// Its name (`comm`).
    pub name: String,
    /// User + system CPU, in clock ticks (`utime` + `stime` of `stat`).
    pub ticks: u64,
    /// Time spent runnable but waiting for a CPU, ns (second field of `schedstat`);
    /// `None` where schedstat cannot be read.
    pub wait_ns: Option<u64>,
}

/// The name and `utime + stime` (clock ticks) of a `/proc/PID/task/TID/stat` line. The
/// name may hold spaces and parentheses, so it runs from the first `(` to the *last* `)`.
pub fn parse_task_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    // After the name: state (field 3) ... utime (field 14) and stime (field 15).
    let mut rest = text.get(close + 1..)?.split_whitespace().skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((name, utime.saturating_add(stime)))
}

/// The run-queue wait (second field, ns) of a `schedstat` line.
pub fn parse_schedstat_wait(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The threads of `pid` now; `None` when `/proc/PID/task` cannot be listed (the process
/// is gone). A thread that exits while it is being read is left out.
pub fn read_tasks(pid: u32) -> Option<Vec<TaskReading>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        // comm is arbitrary bytes: read bytes, not a UTF-8 string.
        let Ok(stat) = std::fs::read(path.join("stat")) else {
            continue;
        };
        let Some((name, ticks)) = parse_task_stat(&String::from_utf8_lossy(&stat)) else {
            continue;
        };
        let wait_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|t| parse_schedstat_wait(&t));
        out.push(TaskReading {
            tid,
            name,
            ticks,
            wait_ns,
        });
    }
    Some(out)
}

/// Clock ticks per second (`USER_HZ`, the unit of `utime` and `stime`).
pub fn ticks_per_second() -> f64 {
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        // Linux has reported 100 to user space on every architecture for decades.
        if hz > 0 { hz as f64 } else { 100.0 }
    })
}

/// What one reading says relative to the previous one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadDeltas {
    /// The busiest threads, busiest first, at most [`MAX_THREAD_SAMPLES`], each at least
    /// [`MIN_THREAD_CORES`].
    pub thread_cpu: Vec<ThreadCpu>,
    /// Σ over threads of their run-queue wait increase ÷ the elapsed time (thread-seconds
    /// per second); `None` when no thread's schedstat was read in both readings.
    pub run_queue_wait: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Previous {
    ticks: u64,
    wait_ns: Option<u64>,
}

/// The previous reading of one process's threads, by TID.
#[derive(Debug, Default)]
pub struct ThreadTracker {
    prev: HashMap<u32, Previous>,
}

impl ThreadTracker {
    /// A tracker with no baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take `tasks` (read `elapsed_s` seconds after the previous reading) as the new
    /// baseline and return the deltas since the previous one. A thread seen for the first
    /// time contributes nothing (its counters have no baseline); a thread that has gone is
    /// forgotten. A counter that went backwards (a TID reused by a new thread) counts as
    /// zero.
    pub fn update(&mut self, tasks: &[TaskReading], elapsed_s: f64, hz: f64) -> ThreadDeltas {
        let usable = elapsed_s.is_finite() && elapsed_s > 0.0 && hz.is_finite() && hz > 0.0;
        let mut thread_cpu = Vec::new();
        let mut wait_ns = 0u64;
        let mut wait_seen = false;
        let mut next = HashMap::with_capacity(tasks.len());
        for t in tasks {
            if let (true, Some(p)) = (usable, self.prev.get(&t.tid)) {
                let cores = t.ticks.saturating_sub(p.ticks) as f64 / hz / elapsed_s;
                if cores >= MIN_THREAD_CORES {
                    thread_cpu.push(ThreadCpu {
                        tid: t.tid,
                        name: t.name.clone(),
                        cpu_cores: cores,
                    });
                }
                if let (Some(w), Some(w0)) = (t.wait_ns, p.wait_ns) {
                    wait_ns = wait_ns.saturating_add(w.saturating_sub(w0));
                    wait_seen = true;
                }
            }
            next.insert(
                t.tid,
                Previous {
                    ticks: t.ticks,
                    wait_ns: t.wait_ns,
                },
            );
        }
        self.prev = next;
        thread_cpu.sort_by(|a, b| {
            b.cpu_cores
                .total_cmp(&a.cpu_cores)
                .then_with(|| a.tid.cmp(&b.tid))
        });
        thread_cpu.truncate(MAX_THREAD_SAMPLES);
        ThreadDeltas {
            thread_cpu,
            run_queue_wait: wait_seen.then(|| wait_ns as f64 / 1e9 / elapsed_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn stat_lines_with_awkward_names() {
        let line = "4242 (tokio-runtime-w) S 1 4242 4242 0 -1 4194368 1204 0 0 0 250 31 0 0 20 0 7 0 \
                    1234 5678 90 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_task_stat(line),
            Some(("tokio-runtime-w".to_string(), 281))
        );
        let odd = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_task_stat(odd), Some(("a) b (c)".to_string(), 15)));
        let spaced = "9 (Web Content) S 1 9 9 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 1 1 1";
        assert_eq!(
            parse_task_stat(spaced),
            Some(("Web Content".to_string(), 10))
        );
        assert_eq!(parse_task_stat(""), None);
        assert_eq!(parse_task_stat("1 (x) R 1 2 3"), None, "truncated");
        assert_eq!(parse_task_stat("1 x) R"), None, "no opening parenthesis");
        assert_eq!(
            parse_task_stat("1 (x) R 1 1 1 0 -1 0 0 0 0 0 -5 3 0"),
            None,
            "negative ticks"
        );
    }

    #[test]
    fn schedstat_wait_field() {
        assert_eq!(parse_schedstat_wait("837448 1968364 6\n"), Some(1_968_364));
        assert_eq!(parse_schedstat_wait("1"), None);
        assert_eq!(parse_schedstat_wait("1 x 2"), None);
    }

    fn task(tid: u32, name: &str, ticks: u64, wait_ns: Option<u64>) -> TaskReading {
        TaskReading {
            tid,
            name: name.into(),
            ticks,
            wait_ns,
        }
    }

    #[test]
    fn deltas_per_tid_new_and_gone_threads() {
        let mut t = ThreadTracker::new();
        let first = t.update(
            &[task(1, "main", 100, Some(0)), task(2, "w", 50, Some(10))],
            0.1,
            100.0,
        );
        assert_eq!(first, ThreadDeltas::default(), "no baseline yet");
        // 0.5 s later: tid 1 ran 50 ticks (1.0 core), tid 2 none, tid 3 is new, and the
        // waits add 0.2 s + 0.05 s over 0.5 s.
        let d = t.update(
            &[
                task(1, "main", 150, Some(200_000_000)),
                task(2, "w", 50, Some(50_000_010)),
                task(3, "new", 9_999, Some(9_999_999_999)),
            ],
            0.5,
            100.0,
        );
        assert_eq!(d.thread_cpu.len(), 1, "idle and new threads left out");
        assert_eq!(
            (d.thread_cpu[0].tid, d.thread_cpu[0].name.as_str()),
            (1, "main")
        );
        assert!((d.thread_cpu[0].cpu_cores - 1.0).abs() < 1e-9);
        assert!((d.run_queue_wait.unwrap() - 0.5).abs() < 1e-9);
        // tid 1 has gone, tid 3 now has a baseline; a TID whose counters went back
        // counts as zero, not as a huge delta.
        let d = t.update(
            &[
                task(2, "w", 40, Some(0)),
                task(3, "new", 10_009, Some(9_999_999_999)),
            ],
            0.1,
            100.0,
        );
        assert_eq!(d.thread_cpu.len(), 1);
        assert_eq!(d.thread_cpu[0].tid, 3);
        assert!((d.thread_cpu[0].cpu_cores - 1.0).abs() < 1e-9);
        assert_eq!(d.run_queue_wait, Some(0.0));
        assert!(!t.prev.contains_key(&1), "no stale entry");
    }

    #[test]
    fn busiest_first_capped_and_schedstat_absent() {
        let mut t = ThreadTracker::new();
        let n = MAX_THREAD_SAMPLES as u32 + 4;
        let base: Vec<_> = (1..=n).map(|i| task(i, "w", 0, None)).collect();
        t.update(&base, 1.0, 100.0);
        let now: Vec<_> = (1..=n).map(|i| task(i, "w", u64::from(i), None)).collect();
        let d = t.update(&now, 1.0, 100.0);
        assert_eq!(d.thread_cpu.len(), MAX_THREAD_SAMPLES);
        assert_eq!(d.thread_cpu[0].tid, n);
        assert!(
            d.thread_cpu
                .windows(2)
                .all(|w| w[0].cpu_cores >= w[1].cpu_cores)
        );
        assert_eq!(d.run_queue_wait, None, "no schedstat, no figure");
        let d = t.update(&now, 0.0, 100.0);
        assert_eq!(d, ThreadDeltas::default(), "no time elapsed: no rate");
    }

    #[test]
    fn own_threads_appear_and_a_busy_one_reads_its_cpu() {
        use satlab_common::cpu_work::{spin_rounds, thread_cpu_time};
        let me = std::process::id();
        let stop = Arc::new(AtomicBool::new(false));
        // The busy thread publishes its own CPU clock, an account independent of /proc.
        let clock_ns = Arc::new(AtomicU64::new(0));
        let (flag, clock) = (stop.clone(), clock_ns.clone());
        let busy = std::thread::Builder::new()
            .name("satlab-busy".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    spin_rounds(4096, || {});
                    let ns = thread_cpu_time().map_or(1, |t| t.as_nanos() as u64);
                    clock.store(ns, Ordering::Relaxed);
                }
            })
            .unwrap();
        while clock_ns.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        let hz = ticks_per_second();
        let mut tracker = ThreadTracker::new();
        let c0 = clock_ns.load(Ordering::Relaxed);
        let first = read_tasks(me).expect("own /proc/self/task");
        let t0 = Instant::now();
        tracker.update(&first, 1.0, hz);
        assert!(
            first.iter().any(|t| t.tid == me),
            "the main thread is listed"
        );
        let busy_tid = first
            .iter()
            .find(|t| t.name == "satlab-busy")
            .map(|t| t.tid)
            .expect("the named thread is listed");
        std::thread::sleep(Duration::from_millis(800));
        let now = read_tasks(me).unwrap();
        let elapsed = t0.elapsed().as_secs_f64();
        let c1 = clock_ns.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();
        let d = tracker.update(&now, elapsed, hz);
        let got = d
            .thread_cpu
            .iter()
            .find(|t| t.tid == busy_tid)
            .unwrap_or_else(|| panic!("busy thread missing from {:?}", d.thread_cpu));
        assert_eq!(got.name, "satlab-busy");
        // Its own clock over the same window: a loaded machine gives the thread less than
        // a core, and both accounts see the same. Ticks are 10 ms, so two of them over
        // 0.8 s are 0.025 cores; the bound leaves room for the window edges too.
        let own = (c1 - c0) as f64 / 1e9 / elapsed;
        assert!(
            (got.cpu_cores - own).abs() < 0.1,
            "/proc says {:.3} cores, the thread's clock {own:.3}",
            got.cpu_cores
        );
        assert!(own > 0.1, "the spinning thread hardly ran: {own:.3} cores");
        if std::path::Path::new("/proc/self/schedstat").exists() {
            // A thread that never sleeps is always either running or waiting to run: its
            // CPU and its run-queue wait add up to the elapsed time. The process's wait
            // sums all its threads, so it is at least the busy thread's.
            let waited = |r: &[TaskReading]| {
                r.iter()
                    .find(|t| t.tid == busy_tid)
                    .and_then(|t| t.wait_ns)
                    .expect("the busy thread's schedstat")
            };
            let busy_wait = (waited(&now) - waited(&first)) as f64 / 1e9 / elapsed;
            assert!(
                (own + busy_wait - 1.0).abs() < 0.1,
                "ran {own:.3} + waited {busy_wait:.3} of each second"
            );
            let wait = d.run_queue_wait.expect("schedstat is readable here");
            assert!(
                wait.is_finite() && wait >= busy_wait - 1e-9,
                "{wait} < {busy_wait}"
            );
        }
    }
}
