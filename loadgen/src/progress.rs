//! The live progress line on stderr: step, concurrency or rate, RPS, p99, errors, in flight.

use crate::plan::StepWindow;
use satlab_record::series::SecondSample;
use std::io::{IsTerminal, Write};

/// Prints one line per second (rewritten in place on a terminal).
pub struct Progress {
    enabled: bool,
    tty: bool,
    steps: usize,
    errors: u64,
}

impl Progress {
    /// A progress printer; `enabled = false` prints nothing.
    pub fn new(enabled: bool, steps: usize) -> Self {
        Progress {
            enabled,
            tty: std::io::stderr().is_terminal(),
            steps,
            errors: 0,
        }
    }

    /// Format one line.
    pub fn line(&self, s: &SecondSample, step: &StepWindow, errors_total: u64) -> String {
        let load = match (step.concurrency, step.rate) {
            (Some(c), _) => format!("c={c}"),
            (_, Some(r)) => format!("rate={r:.0}/s"),
            _ => String::new(),
        };
        format!(
            "[{:>4}s] step {}/{} {load:<10} rps {:>9} p99 {:>9} in-flight {:>6} errors {}",
            s.t_s + 1,
            s.step + 1,
            self.steps,
            s.requests,
            crate::table::fmt_us(s.p99_us),
            s.in_flight,
            errors_total,
        )
    }

    /// Show a second's figures.
    pub fn update(&mut self, s: &SecondSample, step: &StepWindow) {
        self.errors += s.errors.values().sum::<u64>();
        if !self.enabled {
            return;
        }
        let line = self.line(s, step, self.errors);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    /// End the line before the final table.
    pub fn finish(&self) {
        if self.enabled && self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
