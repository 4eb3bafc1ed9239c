//! The lab's progress display: one refreshing line on a terminal, plain lines otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

/// What the progress line shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Client CPU, cores, and its capacity.
    pub client_cpu: Option<(f64, f64)>,
    /// Server CPU, cores, and its capacity.
    pub server_cpu: Option<(f64, f64)>,
    /// Established TCP connections in the target's namespace.
    pub estab: Option<u64>,
    /// Listen-queue overflows so far.
    pub listen_overflows: u64,
    /// Server events received.
    pub events: u64,
    /// OTLP items received (spans + points + log records).
    pub otlp_items: u64,
}

/// Formats and prints progress lines.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    start: Instant,
    last: Option<Instant>,
    every: Duration,
    dirty: bool,
}

impl Progress {
    /// A display on stderr; `tty` selects the refreshing form.
    pub fn new(tty: bool) -> Self {
        Progress {
            tty,
            start: Instant::now(),
            last: None,
            every: if tty {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(2)
            },
            dirty: false,
        }
    }

    /// True when stderr is a terminal.
    pub fn stderr_is_tty() -> bool {
        // SAFETY: isatty has no preconditions.
        unsafe { libc::isatty(2) == 1 }
    }

    /// The line for a snapshot.
    pub fn line(elapsed: Duration, s: &Snapshot) -> String {
        let cpu = |c: Option<(f64, f64)>| match c {
            Some((cores, cap)) => format!("{cores:.2}/{cap:.1} cores"),
            None => "-".to_string(),
        };
        format!(
            "[{:>5.1}s] client {} | server {} | estab {} | listen overflows {} | OTLP {} items, {} server events",
            elapsed.as_secs_f64(),
            cpu(s.client_cpu),
            cpu(s.server_cpu),
            s.estab.map_or("-".to_string(), |e| e.to_string()),
            s.listen_overflows,
            s.otlp_items,
            s.events,
        )
    }

    /// Print the snapshot if it is time to.
    pub fn tick(&mut self, s: &Snapshot) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < self.every)
        {
            return;
        }
        self.last = Some(now);
        let line = Self::line(now.duration_since(self.start), s);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.dirty = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// End the refreshing line so later output starts on a fresh one.
    pub fn done(&mut self) {
        if self.dirty {
            eprintln!();
            self.dirty = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_cpu_and_counts() {
        let s = Snapshot {
            client_cpu: Some((0.5, 1.0)),
            server_cpu: None,
            estab: Some(20),
            listen_overflows: 3,
            events: 4,
            otlp_items: 99,
        };
        let l = Progress::line(Duration::from_millis(1500), &s);
        assert!(l.contains("0.50/1.0 cores"), "{l}");
        assert!(l.contains("server -"), "{l}");
        assert!(l.contains("4 server events"), "{l}");
        assert!(l.contains("1.5s"), "{l}");
    }
}
