//! Waiting for a spawned program to end, bounded, as the binaries' signal tests do.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Wait for `child` to exit, polling every 20 ms; panics (failing the test) after `limit`.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait on a spawned child") {
            return st;
        }
        assert!(
            t.elapsed() < limit,
            "the program did not stop within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
