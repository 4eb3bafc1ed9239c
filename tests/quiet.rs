//! A quiet machine before a scenario runs. The lab measures saturation: a run started while
//! other processes or the hypervisor's other guests (steal) hold the CPUs measures them
//! too, so a scenario waits, bounded, for the machine to settle, and says what it saw.

use observer::steal::CpuTicks;
use std::fmt;
use std::time::{Duration, Instant};

/// Share of the machine's CPU time in use (tasks and steal) below which it is quiet.
pub const QUIET_BUSY: f64 = 0.15;
/// Steal share below which it is quiet: a twentieth of the time away is pauses of
/// milliseconds, a tenth marks the lab's steps disturbed.
pub const QUIET_STEAL: f64 = 0.05;
/// Each reading's window.
const WINDOW: Duration = Duration::from_millis(500);

/// The machine as the last window found it.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    /// Share of the CPUs' time in use, 0–1.
    pub busy: f64,
    /// Share given to other guests, 0–1.
    pub steal: f64,
    /// How long it took to read quiet, or the bound.
    pub waited: Duration,
    /// It read quiet within the bound.
    pub quiet: bool,
}

impl fmt::Display for Settled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "machine {:.0}% busy, steal {:.0}% ({} after {:.1} s)",
            self.busy * 100.0,
            self.steal * 100.0,
            if self.quiet { "quiet" } else { "still busy" },
            self.waited.as_secs_f64()
        )
    }
}

/// Wait until a window reads the machine quiet, for at most `bound`; without `/proc/stat`
/// the machine counts as quiet.
pub fn settle(bound: Duration) -> Settled {
    let start = Instant::now();
    loop {
        let (Some(a), Some(b)) = (CpuTicks::read(), {
            std::thread::sleep(WINDOW);
            CpuTicks::read()
        }) else {
            return Settled {
                busy: 0.0,
                steal: 0.0,
                waited: start.elapsed(),
                quiet: true,
            };
        };
        let (busy, steal) = (b.busy_since(&a), b.steal_since(&a));
        let quiet = busy < QUIET_BUSY && steal < QUIET_STEAL;
        let waited = start.elapsed();
        if quiet || waited >= bound {
            return Settled {
                busy,
                steal,
                waited,
                quiet,
            };
        }
    }
}
