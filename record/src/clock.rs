//! Wall-clock time for the run directory, read so that it agrees with the monotonic clock.
//!
//! Every timestamp in a run is Unix nanoseconds, and the diagnosis lines up the loadgen's
//! requests with the server's events on them to within milliseconds. Two separate reads
//! (`SystemTime::now()` then `Instant::now()`) can be split by a preemption: on a loaded VM
//! the hypervisor takes a vCPU away for tens of milliseconds, and a run whose start was read
//! that way put every request 20-60 ms off the events it caused. So a reading is paired:
//! the wall clock is read on both sides of the monotonic one, and the tightest of a few
//! tries is kept.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Tries at a pairing; one is enough unless a preemption falls inside it.
const PAIR_TRIES: usize = 8;
/// A pairing whose two wall-clock reads are this close, ns, is taken at once.
const PAIR_GOOD_NS: u64 = 20_000;

/// Current Unix time in nanoseconds (0 before 1970).
pub fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A monotonic instant and the Unix time it was read at.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    unix_ns: u64,
    at: Instant,
}

impl WallClock {
    /// Read both clocks as one reading: the wall clock on either side of the monotonic one,
    /// the tightest of a few tries, the midpoint kept.
    pub fn now() -> Self {
        let mut best: Option<(u64, WallClock)> = None;
        for _ in 0..PAIR_TRIES {
            let before = now_unix_ns();
            let at = Instant::now();
            let after = now_unix_ns();
            let gap = after.saturating_sub(before);
            if best.as_ref().is_none_or(|(g, _)| gap < *g) {
                let unix_ns = before + gap / 2;
                best = Some((gap, WallClock { unix_ns, at }));
            }
            if gap <= PAIR_GOOD_NS {
                break;
            }
        }
        best.map(|(_, c)| c).expect("at least one try")
    }

    /// The monotonic side of the reading.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The Unix time, ns, of the reading.
    pub fn unix_ns(&self) -> u64 {
        self.unix_ns
    }

    /// The Unix time, ns, of `t` (before or after the reading).
    pub fn unix_ns_at(&self, t: Instant) -> u64 {
        if t >= self.at {
            let d = t.duration_since(self.at).as_nanos() as u64;
            self.unix_ns.saturating_add(d)
        } else {
            let d = self.at.duration_since(t).as_nanos() as u64;
            self.unix_ns.saturating_sub(d)
        }
    }
}

/// The Unix time, ns, of a monotonic instant, paired afresh: for an event timed with
/// `Instant`s, converted once it is over, so no preemption between reads can move it.
pub fn unix_ns_of(t: Instant) -> u64 {
    WallClock::now().unix_ns_at(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn instants_convert_on_either_side_of_the_reading() {
        let c = WallClock::now();
        let later = c.instant() + Duration::from_millis(5);
        assert_eq!(c.unix_ns_at(later), c.unix_ns() + 5_000_000);
        let earlier = c.instant().checked_sub(Duration::from_millis(7)).unwrap();
        assert_eq!(c.unix_ns_at(earlier), c.unix_ns() - 7_000_000);
        assert_eq!(c.unix_ns_at(c.instant()), c.unix_ns());
    }

    #[test]
    fn a_pairing_agrees_with_the_wall_clock() {
        let before = now_unix_ns();
        let c = WallClock::now();
        let after = now_unix_ns();
        assert!(
            (before..=after).contains(&c.unix_ns()),
            "{before} {c:?} {after}"
        );
        let t = Instant::now();
        let u = unix_ns_of(t);
        // Two pairings of the same clocks agree far inside the diagnosis's 10 ms window.
        assert!(u.abs_diff(c.unix_ns_at(t)) < 5_000_000);
    }
}
