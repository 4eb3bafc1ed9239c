//! Completions in time order, and for each slow request the longest silence in them while it
//! was outstanding: where a stall began, counted in requests the server had finished.
//!
//! A stop-the-world pause that fires every N requests stops every completion for its length.
//! The completions before that silence are the requests the server finished before the
//! pause, its own count less the few in its handlers: exact whatever the load. The index of
//! a burst's first slow request wanders by up to the requests in flight (whichever was sent
//! longest before the pause), and the requests started before its slowest one completed
//! wander with the queue draining after it; on a loaded machine both spread a closed loop's
//! period by 10-20%, the silence by one request.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The longest silence in completions while one slow request was outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Quiet {
    /// Requests completed before it.
    pub index: usize,
    /// When it began (the last completion before it), µs.
    pub at_us: u64,
    /// How long it lasted, µs.
    pub len_us: u64,
}

/// A slow request's completion, once the scan has passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    /// The tag the request was started with.
    pub tag: usize,
    /// Requests started before it completed (the index of the request being started).
    pub release_index: usize,
    pub quiet: Quiet,
}

/// Fed every request in start order; hands back each tagged (slow) request once it has
/// completed, with its longest silence. Completions are put in time order only while a
/// tagged request is outstanding; between, only their count is kept, in amortised constant
/// time a request, so the order costs a heap operation only on the few requests that
/// overlap a slow one.
#[derive(Debug, Default)]
pub(crate) struct Completions {
    /// With no tagged request outstanding: the completions of the requests started since
    /// the last sweep and of those still in flight at it, unordered.
    loose: Vec<u64>,
    /// `loose`'s length after the last sweep.
    kept: usize,
    /// With one outstanding: the untagged requests in flight, earliest completion first.
    plain: BinaryHeap<Reverse<u64>>,
    /// Tagged requests in flight: (completion, tag, start), earliest first.
    slow: BinaryHeap<Reverse<(u64, usize, u64)>>,
    /// Tagged requests from the earliest outstanding one on, in start order (tags are
    /// consecutive): (start, completed).
    open: VecDeque<(u64, bool)>,
    /// The tag of `open`'s front.
    open_base: usize,
    /// Requests started so far.
    started: usize,
    /// Requests completed so far, the latest completion, and the requests completed before
    /// it (ties excluded).
    done: usize,
    last_us: Option<u64>,
    before_last: usize,
    /// Silences while a tagged request is outstanding, in time order, each longer than every
    /// later one: for any window ending now, the first one inside it is the longest.
    silences: VecDeque<Quiet>,
}

/// Fewest loose completions worth a sweep: a sweep reads them all, so rare sweeps of a
/// few pages keep it to about one comparison a request.
const SWEEP_MIN: usize = 4096;

impl Completions {
    /// The next request in start order, `tag`ged when it is slow; `out` receives the tagged
    /// requests that completed before it started.
    pub fn start(
        &mut self,
        start_us: u64,
        end_us: u64,
        tag: Option<usize>,
        out: &mut Vec<Released>,
    ) {
        if self.open.is_empty() {
            match tag {
                None => {
                    self.loose.push(end_us);
                    if self.loose.len() >= 2 * self.kept.max(SWEEP_MIN) {
                        self.sweep(start_us);
                    }
                }
                Some(t) => {
                    // From here completions are needed in order: count those before it and
                    // queue the rest.
                    self.sweep(start_us);
                    self.plain.extend(self.loose.drain(..).map(Reverse));
                    self.open_tag(start_us, t);
                    self.slow.push(Reverse((end_us, t, start_us)));
                }
            }
        } else {
            self.complete_until(start_us, out);
            match tag {
                Some(t) => {
                    self.open_tag(start_us, t);
                    self.slow.push(Reverse((end_us, t, start_us)));
                }
                None => self.plain.push(Reverse(end_us)),
            }
            if self.open.is_empty() {
                // Back to counting.
                self.loose.extend(self.plain.drain().map(|Reverse(e)| e));
                self.kept = self.loose.len();
            }
        }
        self.started += 1;
    }

    /// The end of the series: every request still in flight completes.
    pub fn finish(&mut self, out: &mut Vec<Released>) {
        self.complete_until(u64::MAX, out);
    }

    /// A tagged request starts (tags come in order, one apart).
    fn open_tag(&mut self, start_us: u64, tag: usize) {
        if self.open.is_empty() {
            self.open_base = tag;
        }
        debug_assert_eq!(tag, self.open_base + self.open.len());
        self.open.push_back((start_us, false));
    }

    /// Counts the loose completions by `now_us` (no tagged request outstanding, so only
    /// their number and the latest matter) and keeps the rest.
    fn sweep(&mut self, now_us: u64) {
        let mut latest = self.last_us;
        let mut at_latest = 0;
        let mut ended = 0;
        self.loose.retain(|&e| {
            if e > now_us {
                return true;
            }
            ended += 1;
            match latest {
                Some(l) if e < l => {}
                Some(l) if e == l => at_latest += 1,
                _ => {
                    latest = Some(e);
                    at_latest = 1;
                }
            }
            false
        });
        if ended > 0 {
            self.done += ended;
            if latest != self.last_us {
                self.before_last = self.done - at_latest;
                self.last_us = latest;
            }
        }
        self.kept = self.loose.len();
    }

    /// Completes, in time order, the requests in flight that ended by `now_us`.
    fn complete_until(&mut self, now_us: u64, out: &mut Vec<Released>) {
        loop {
            let next_slow = self.slow.peek().map(|r| r.0).filter(|s| s.0 <= now_us);
            let bound = next_slow.map_or(now_us, |s| s.0);
            while let Some(&Reverse(end)) = self.plain.peek() {
                if end > bound {
                    break;
                }
                self.plain.pop();
                self.complete(end);
            }
            let Some((end, tag, start)) = next_slow else {
                break;
            };
            self.slow.pop();
            self.complete(end);
            self.release(start, end, tag, out);
        }
    }

    /// One completion, in time order.
    fn complete(&mut self, end_us: u64) {
        if let Some(last) = self.last_us.filter(|&l| end_us > l) {
            // A silence no outstanding tagged request contains is no later one's either:
            // they start after it.
            if !self.open.is_empty() {
                let q = Quiet {
                    index: self.done,
                    at_us: last,
                    len_us: end_us - last,
                };
                while self.silences.back().is_some_and(|b| b.len_us <= q.len_us) {
                    self.silences.pop_back();
                }
                self.silences.push_back(q);
            }
            self.before_last = self.done;
        } else if self.last_us.is_none() {
            self.before_last = self.done;
        }
        self.done += 1;
        self.last_us = Some(end_us);
    }

    /// A tagged request's completion, just counted: its longest silence.
    fn release(&mut self, start: u64, end_us: u64, tag: usize, out: &mut Vec<Released>) {
        if let Some(o) = self.open.get_mut(tag.wrapping_sub(self.open_base)) {
            o.1 = true;
        }
        while self.open.front().is_some_and(|o| o.1) {
            self.open.pop_front();
            self.open_base += 1;
        }
        // The first silence beginning inside its window is the longest there (of equal ones,
        // the latest); without one, its own completion.
        let k = self.silences.partition_point(|q| q.at_us < start);
        let quiet = self.silences.get(k).copied().unwrap_or(Quiet {
            index: self.before_last,
            at_us: end_us,
            len_us: 0,
        });
        out.push(Released {
            tag,
            release_index: self.started,
            quiet,
        });
        // No later window reaches back before the earliest outstanding tagged request.
        match self.open.front() {
            None => self.silences.clear(),
            Some(&(floor, _)) => {
                while self.silences.front().is_some_and(|q| q.at_us < floor) {
                    self.silences.pop_front();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `(start, latency, slow)` requests (in start order) through the tracker; each
    /// released one is tagged with its index in `reqs`.
    fn run(reqs: &[(u64, u64, bool)]) -> Vec<Released> {
        let mut c = Completions::default();
        let mut out = Vec::new();
        let mut slow_ones = Vec::new();
        for (i, &(s, l, slow)) in reqs.iter().enumerate() {
            let tag = slow.then(|| {
                slow_ones.push(i);
                slow_ones.len() - 1
            });
            c.start(s, s + l, tag, &mut out);
        }
        c.finish(&mut out);
        for r in &mut out {
            r.tag = slow_ones[r.tag];
        }
        out.sort_by_key(|r| r.tag);
        out
    }

    #[test]
    fn a_stall_is_found_by_the_completions_before_it() {
        // Four workers in a closed loop at 1 ms a request; a 20 ms stall at t = 100.5 ms
        // holds the four requests then in flight, whichever was sent first.
        let mut reqs = Vec::new();
        for w in 0..4u64 {
            let mut t = w * 250;
            while t < 200_000 {
                let stalled = t <= 100_500 && t + 1000 > 100_500;
                let lat = if stalled { 100_500 + 20_000 - t } else { 1000 };
                reqs.push((t, lat, stalled));
                t += lat;
            }
        }
        reqs.sort();
        let done_before = reqs.iter().filter(|r| r.0 + r.1 <= 100_500).count();
        let got = run(&reqs);
        assert_eq!(got.len(), 4);
        for r in &got {
            assert_eq!(r.quiet.index, done_before, "{r:?}");
            assert!(r.quiet.len_us >= 20_000, "{r:?}");
            assert!((100_000..=100_500).contains(&r.quiet.at_us), "{r:?}");
            // Released: the requests started before it completed, which is every one
            // started before the stall.
            let (s, l, _) = reqs[r.tag];
            assert_eq!(r.release_index, reqs.partition_point(|x| x.0 < s + l));
        }
    }

    #[test]
    fn silences_outside_a_window_are_not_its_own() {
        // Completions at 10, 60, 80, 81, 99 and 100; the slow request runs 70 → 100. The
        // silences 10 → 60 and 60 → 80 are longer but begin before it; of those inside its
        // window, 81 → 99 is the longest.
        let reqs = [
            (0, 10, false),
            (60, 0, false),
            (70, 30, true),
            (75, 5, false),
            (76, 5, false),
            (90, 9, false),
        ];
        let got = run(&reqs);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].quiet,
            Quiet {
                index: 4,
                at_us: 81,
                len_us: 18
            }
        );
        assert_eq!(got[0].release_index, 6);
    }

    #[test]
    fn memory_holds_only_the_silences_an_outstanding_request_can_see() {
        let mut c = Completions::default();
        let mut out = Vec::new();
        // A steady series with nothing slow keeps no silences.
        for i in 0..10_000u64 {
            c.start(i * 10, i * 10 + 15, None, &mut out);
        }
        assert!(c.silences.is_empty(), "{}", c.silences.len());
        assert!(c.plain.is_empty() && c.loose.len() < 2 * SWEEP_MIN);
        c.finish(&mut out);
        assert!(out.is_empty());
    }
}
