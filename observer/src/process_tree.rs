//! A process and its descendants, from `/proc/*/stat`: the server's CPU is the sum over
//! the tree of a command the lab started (a shell, its server, the server's workers),
//! rediscovered at every sample, and stopping a command stops every process of its tree.

use crate::proc_threads::parse_task_stat;
use std::collections::HashMap;

/// The parent PID (field 4) of a `/proc/PID/stat` line; the name before it may hold
/// spaces and parentheses, so fields are counted from the *last* `)`.
pub fn parse_ppid(stat: &str) -> Option<u32> {
    let close = stat.rfind(')')?;
    stat.get(close + 1..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `root` and every live descendant, root first, then breadth first; empty when `root`
/// is gone. Processes that appear or exit during the scan may be missed until the next.
pub fn tree(root: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut root_seen = false;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        root_seen |= pid == root;
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = parse_ppid(&String::from_utf8_lossy(&stat)) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    if !root_seen {
        return Vec::new();
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for &k in kids {
                // A PID listed twice (reused during the scan) must not loop.
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        i += 1;
    }
    out
}

/// CPU ticks (`utime + stime`) of one process, from `/proc/PID/stat`.
pub fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_task_stat(&String::from_utf8_lossy(&stat)).map(|(_, t)| t)
}

/// The CPU a tree used between two readings, in ticks: each process's own increase; a
/// process new since the last reading counts whole (it started within the interval), one
/// gone since then is not counted again. `prev` becomes the new reading.
pub fn tree_ticks_delta(prev: &mut HashMap<u32, u64>, now: &[(u32, u64)]) -> u64 {
    let mut delta = 0u64;
    let mut next = HashMap::with_capacity(now.len());
    for &(pid, ticks) in now {
        delta += match prev.get(&pid) {
            Some(&before) => ticks.saturating_sub(before),
            None => ticks,
        };
        next.insert(pid, ticks);
    }
    *prev = next;
    delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ppid_after_an_awkward_name() {
        assert_eq!(parse_ppid("42 (a) b (c)) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parse_ppid("42 (x"), None);
    }

    #[test]
    fn a_new_process_counts_whole_and_a_gone_one_is_not_counted_again() {
        let mut prev = HashMap::new();
        assert_eq!(tree_ticks_delta(&mut prev, &[(1, 10), (2, 5)]), 15);
        assert_eq!(tree_ticks_delta(&mut prev, &[(1, 12), (3, 4)]), 6);
        assert_eq!(tree_ticks_delta(&mut prev, &[(1, 12), (3, 4)]), 0);
    }

    #[test]
    fn the_tree_of_a_shell_holds_its_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5 & sleep 5 & wait"])
            .spawn()
            .unwrap();
        let root = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut t = tree(root);
        while t.len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            t = tree(root);
        }
        assert_eq!(t[0], root);
        assert_eq!(t.len(), 3, "{t:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        for &p in &t[1..] {
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
        assert!(tree(root).is_empty());
        assert!(process_ticks(std::process::id()).is_some());
    }
}
