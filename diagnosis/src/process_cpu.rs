//! One process's CPU over a step: mean cores, capacity, run-queue wait and its hottest
//! threads (from the per-thread samples), so a ceiling at one core can be told from a
//! process with room to spare.

use crate::model::{ProcessCpu, ThreadLoad};
use satlab_record::samples::{ProcessSample, Role};
use std::collections::BTreeMap;

/// Hottest threads kept per process and step: enough to name k saturated workers on a
/// small machine, few enough for a table cell.
pub const MAX_HOT_THREADS: usize = 4;
/// A thread averaging at least this many cores over a step counts as busy: 5% of a core is
/// well above the housekeeping threads (timers, exporters) yet far below any worker that
/// carries requests.
pub const BUSY_THREAD_CORES: f64 = 0.05;

/// Summarise the samples of `role` taken inside `(from, to]` (Unix ns); `None` without any.
pub fn summarise(samples: &[ProcessSample], role: Role, from: u64, to: u64) -> Option<ProcessCpu> {
    let inside: Vec<&ProcessSample> = samples
        .iter()
        .filter(|p| p.role == role && p.t_unix_ns > from && p.t_unix_ns <= to)
        .filter(|p| p.cpu_cores.is_finite() && p.cpu_capacity.is_finite())
        .collect();
    if inside.is_empty() {
        return None;
    }
    let n = inside.len() as f64;
    let cores = inside.iter().map(|p| p.cpu_cores).sum::<f64>() / n;
    let capacity = inside.iter().map(|p| p.cpu_capacity).sum::<f64>() / n;
    let waits: Vec<f64> = inside
        .iter()
        .filter_map(|p| p.run_queue_wait)
        .filter(|w| w.is_finite())
        .collect();
    let run_queue_wait =
        (!waits.is_empty()).then(|| waits.iter().sum::<f64>() / waits.len() as f64);

    // Per thread: its CPU summed over the samples, divided by all samples (a thread absent
    // from a sample was below the sampler's cut-off there and counts as idle).
    let mut per_tid: BTreeMap<u32, (String, f64)> = BTreeMap::new();
    for p in &inside {
        for t in &p.thread_cpu {
            if !t.cpu_cores.is_finite() {
                continue;
            }
            let e = per_tid
                .entry(t.tid)
                .or_insert_with(|| (t.name.clone(), 0.0));
            e.1 += t.cpu_cores.max(0.0);
        }
    }
    let mut threads: Vec<ThreadLoad> = per_tid
        .into_iter()
        .map(|(tid, (name, sum))| ThreadLoad {
            tid,
            name,
            cores: sum / n,
        })
        .collect();
    threads.sort_by(|a, b| b.cores.total_cmp(&a.cores).then(a.tid.cmp(&b.tid)));
    let busy_threads = threads
        .iter()
        .filter(|t| t.cores >= BUSY_THREAD_CORES)
        .count() as u32;
    threads.truncate(MAX_HOT_THREADS);
    Some(ProcessCpu {
        cores,
        capacity,
        run_queue_wait,
        threads,
        busy_threads,
    })
}

/// Mean cores of `role` inside `(from, to]`, `None` without samples.
pub fn mean_cores(samples: &[ProcessSample], role: Role, from: u64, to: u64) -> Option<f64> {
    summarise(samples, role, from, to).map(|p| p.cores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_record::samples::ThreadCpu;

    fn sample(
        t: u64,
        cores: f64,
        threads: &[(u32, &str, f64)],
        wait: Option<f64>,
    ) -> ProcessSample {
        ProcessSample {
            t_unix_ns: t,
            role: Role::Server,
            pid: 7,
            cpu_cores: cores,
            cpu_capacity: 2.0,
            cpu_util: cores / 2.0,
            rss_bytes: 0,
            threads: 4,
            open_fds: 10,
            fd_limit: 1024,
            thread_cpu: threads
                .iter()
                .map(|&(tid, name, c)| ThreadCpu {
                    tid,
                    name: name.into(),
                    cpu_cores: c,
                })
                .collect(),
            run_queue_wait: wait,
        }
    }

    #[test]
    fn threads_average_over_all_samples_hottest_first() {
        let s = vec![
            sample(
                10,
                1.0,
                &[(1, "worker", 0.98), (2, "exporter", 0.02)],
                Some(0.1),
            ),
            sample(20, 1.0, &[(1, "worker", 0.96)], None),
            sample(30, 0.5, &[(3, "late", 0.40)], Some(0.3)),
            // Outside the window, or another role: ignored.
            sample(40, 2.0, &[(9, "other", 1.0)], Some(5.0)),
        ];
        let p = summarise(&s, Role::Server, 0, 30).unwrap();
        assert!((p.cores - 2.5 / 3.0).abs() < 1e-12);
        assert_eq!(p.capacity, 2.0);
        assert_eq!(p.run_queue_wait, Some(0.2));
        let names: Vec<&str> = p.threads.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["worker", "late", "exporter"]);
        assert!((p.threads[0].cores - 1.94 / 3.0).abs() < 1e-12);
        // The exporter averages 0.0067 cores: not busy.
        assert_eq!(p.busy_threads, 2);
        assert!(summarise(&s, Role::Client, 0, 100).is_none());
        assert!(summarise(&s, Role::Server, 40, 100).is_none());
    }

    #[test]
    fn bad_figures_are_skipped() {
        let s = vec![
            sample(10, f64::NAN, &[], None),
            sample(
                20,
                1.0,
                &[(1, "w", f64::INFINITY), (2, "v", 0.5)],
                Some(f64::NAN),
            ),
        ];
        let p = summarise(&s, Role::Server, 0, 30).unwrap();
        assert_eq!(p.cores, 1.0);
        assert_eq!(p.run_queue_wait, None);
        assert_eq!(p.threads.len(), 1);
        assert_eq!(p.threads[0].name, "v");
    }
}
