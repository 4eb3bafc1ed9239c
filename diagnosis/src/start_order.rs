//! The per-request log in start order, in bounded memory.
//!
//! `requests.bin` is written as requests complete, a chunk per shard at a time, so it is
//! only nearly in start order. One pass in file order ([`LogShape::read`]) measures how far
//! out of order it is: the largest distance a record starts before the latest start read
//! ahead of it. Every later record starts at or after the latest start so far minus that
//! distance, so a sorted buffer can hand on every record below that bound
//! ([`for_each_in_start_order`]) and hold only the window in between. A one-hour soak is
//! then streamed through a window of a few seconds of requests instead of sorted whole.

use crate::error::DiagnosisError;
use crate::input::RequestChunks;
use hdrhistogram::Histogram;
use satlab_record::RequestRecord;
use satlab_record::histogram::{new_latency_histogram, record_clamped};

/// Records sorted and merged at a time.
const CHUNK: usize = 1 << 16;

/// The order of the series: start, then latency, then step. Ties on all three are
/// interchangeable for every analysis of the series.
fn key(r: &RequestRecord) -> u128 {
    (u128::from(r.start_us) << 40) | (u128::from(r.latency_us) << 8) | u128::from(r.step)
}

/// What one pass over the log in file order tells.
#[derive(Debug, Clone)]
pub(crate) struct LogShape {
    /// Records in the log.
    pub count: u64,
    /// The latest start, µs; `None` for an empty log.
    pub last_start_us: Option<u64>,
    /// The latest completion (start + latency), µs.
    pub last_end_us: u64,
    /// How far, µs, a record starts before the latest start read ahead of it.
    pub disorder_us: u64,
    /// The runs of one step in start order, as (step, requests), when the steps' start
    /// ranges do not overlap; `None` when they do (see [`segments`]).
    pub segments: Option<Vec<(u8, u64)>>,
    /// Every request's latency, when asked for.
    pub histogram: Option<Histogram<u64>>,
}

#[derive(Debug, Clone, Copy)]
struct StepRange {
    count: u64,
    first_us: u64,
    last_us: u64,
}

impl LogShape {
    /// One pass over `records` in file order; with `histogram`, every latency is recorded.
    pub fn read(
        mut records: RequestChunks<'_>,
        histogram: bool,
    ) -> Result<LogShape, DiagnosisError> {
        let mut steps: Vec<Option<StepRange>> = vec![None; 256];
        let mut hist = histogram.then(new_latency_histogram);
        let (mut count, mut frontier, mut last_end, mut disorder) = (0u64, None, 0u64, 0u64);
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            records.fill(&mut chunk, CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            for r in &chunk {
                count += 1;
                let f: u64 = frontier.map_or(r.start_us, |f: u64| f.max(r.start_us));
                disorder = disorder.max(f - r.start_us);
                frontier = Some(f);
                last_end = last_end.max(r.start_us.saturating_add(u64::from(r.latency_us)));
                if let Some(h) = hist.as_mut() {
                    record_clamped(h, u64::from(r.latency_us));
                }
                let s = &mut steps[usize::from(r.step)];
                match s {
                    Some(s) => {
                        s.count += 1;
                        s.first_us = s.first_us.min(r.start_us);
                        s.last_us = s.last_us.max(r.start_us);
                    }
                    None => {
                        *s = Some(StepRange {
                            count: 1,
                            first_us: r.start_us,
                            last_us: r.start_us,
                        })
                    }
                }
            }
        }
        let mut ranges: Vec<(u8, StepRange)> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i as u8, s)))
            .collect();
        ranges.sort_by_key(|(_, s)| s.first_us);
        let disjoint = ranges.windows(2).all(|w| w[0].1.last_us < w[1].1.first_us);
        Ok(LogShape {
            count,
            last_start_us: frontier,
            last_end_us: last_end,
            disorder_us: disorder,
            segments: disjoint.then(|| ranges.iter().map(|(i, s)| (*i, s.count)).collect()),
            histogram: hist,
        })
    }
}

/// The runs of one step in start order, as (step, requests), by a pass in start order:
/// for logs whose steps' start ranges overlap.
pub(crate) fn segments(
    records: RequestChunks<'_>,
    disorder_us: u64,
) -> Result<Vec<(u8, u64)>, DiagnosisError> {
    let mut runs: Vec<(u8, u64)> = Vec::new();
    for_each_in_start_order(records, disorder_us, |r| match runs.last_mut() {
        Some((step, n)) if *step == r.step => *n += 1,
        _ => runs.push((r.step, 1)),
    })?;
    Ok(runs)
}

/// Hand `f` every record in start order (by start, latency, step), holding only the
/// records within `disorder_us` of the latest start read (see [`LogShape::disorder_us`]).
/// A `disorder_us` smaller than the log's real disorder would misorder records, never
/// lose them.
pub(crate) fn for_each_in_start_order(
    mut records: RequestChunks<'_>,
    disorder_us: u64,
    mut f: impl FnMut(&RequestRecord),
) -> Result<(), DiagnosisError> {
    let mut pending: Vec<RequestRecord> = Vec::new();
    let mut merged: Vec<RequestRecord> = Vec::new();
    let mut chunk: Vec<RequestRecord> = Vec::with_capacity(CHUNK);
    let mut frontier = 0u64;
    loop {
        records.fill(&mut chunk, CHUNK)?;
        frontier = chunk.iter().fold(frontier, |f, r| f.max(r.start_us));
        let done = chunk.is_empty();
        sort(&mut chunk);
        merge(&pending, &chunk, &mut merged);
        std::mem::swap(&mut pending, &mut merged);
        // Every record still to come starts at or after `frontier - disorder_us`.
        let ready = if done {
            pending.len()
        } else {
            let bound = frontier.saturating_sub(disorder_us);
            pending.partition_point(|r| r.start_us < bound)
        };
        pending[..ready].iter().for_each(&mut f);
        pending.drain(..ready);
        if done {
            return Ok(());
        }
    }
}

/// Sort by [`key`]: by start alone, then each run of equal starts by the rest of the key
/// (such runs are short), so the sort compares one word instead of two.
fn sort(v: &mut [RequestRecord]) {
    v.sort_unstable_by_key(|r| r.start_us);
    let mut i = 0;
    while i < v.len() {
        let mut j = i + 1;
        while j < v.len() && v[j].start_us == v[i].start_us {
            j += 1;
        }
        if j - i > 1 {
            v[i..j].sort_unstable_by_key(key);
        }
        i = j;
    }
}

/// Merge two sorted runs into `out`.
fn merge(a: &[RequestRecord], b: &[RequestRecord], out: &mut Vec<RequestRecord>) {
    out.clear();
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if key(&b[j]) < key(&a[i]) {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::rng::SplitMix64;
    use satlab_record::ErrorKind;

    fn rec(start_us: u64, latency_us: u32, step: u8) -> RequestRecord {
        RequestRecord {
            start_us,
            latency_us,
            status: 200,
            error: ErrorKind::None,
            step,
        }
    }

    /// `reqs` shuffled within consecutive windows of `window` records: out of order by
    /// up to a window.
    fn shuffled(reqs: &[RequestRecord], window: usize, seed: u64) -> Vec<RequestRecord> {
        let mut rng = SplitMix64::new(seed);
        let mut out = reqs.to_vec();
        for w in out.chunks_mut(window) {
            for i in (1..w.len()).rev() {
                w.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        out
    }

    fn series(n: usize, seed: u64) -> Vec<RequestRecord> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|i| {
                let slow = rng.below(500) == 0;
                rec(
                    (i as u64 * 7 + rng.below(3)) / 16, // runs of equal starts
                    if slow {
                        200_000
                    } else {
                        100 + rng.below(900) as u32
                    },
                    (i * 4 / n) as u8,
                )
            })
            .collect()
    }

    fn streamed(logged: &[RequestRecord]) -> (LogShape, Vec<RequestRecord>) {
        let shape = LogShape::read(RequestChunks::Memory(logged), false).unwrap();
        let mut out = Vec::new();
        for_each_in_start_order(RequestChunks::Memory(logged), shape.disorder_us, |r| {
            out.push(*r)
        })
        .unwrap();
        (shape, out)
    }

    #[test]
    fn a_logged_series_streams_back_in_full_sort_order() {
        for (n, window) in [
            (300_000, 20_000),
            (100_000, 1),
            (100_000, 100_000),
            (5, 3),
            (0, 1),
        ] {
            let reqs = series(n, n as u64);
            let logged = shuffled(&reqs, window, n as u64);
            let (shape, out) = streamed(&logged);
            let mut want = logged.clone();
            want.sort_by_key(key);
            assert_eq!(out.len(), want.len());
            assert!(out.iter().zip(&want).all(|(a, b)| key(a) == key(b)));
            assert_eq!(shape.count, n as u64);
            assert_eq!(shape.last_start_us, want.last().map(|r| r.start_us));
            let mut runs: Vec<(u8, u64)> = Vec::new();
            for r in &want {
                match runs.last_mut() {
                    Some((s, k)) if *s == r.step => *k += 1,
                    _ => runs.push((r.step, 1)),
                }
            }
            // Steps that share a start at their boundary overlap: found by a pass in order.
            let segs = match shape.segments {
                Some(s) => s,
                None => segments(RequestChunks::Memory(&logged), shape.disorder_us).unwrap(),
            };
            assert_eq!(segs, runs);
        }
    }

    #[test]
    fn disorder_is_the_largest_step_back() {
        let logged = [10, 50, 20, 60, 15].map(|start| rec(start, 1, 0));
        let (shape, out) = streamed(&logged);
        assert_eq!(shape.disorder_us, 45);
        let starts: Vec<u64> = out.iter().map(|r| r.start_us).collect();
        assert_eq!(starts, [10, 15, 20, 50, 60]);
    }

    #[test]
    fn overlapping_steps_are_segmented_in_start_order() {
        // Step 1 starts before step 0 ends: runs 0, 1, 0, 1 in start order.
        let logged =
            [(1, 0), (2, 1), (3, 0), (4, 1), (5, 1)].map(|(start, step)| rec(start, 5, step));
        let (shape, _) = streamed(&logged);
        assert_eq!(shape.segments, None);
        let runs = segments(RequestChunks::Memory(&logged), shape.disorder_us).unwrap();
        assert_eq!(runs, [(0, 1), (1, 1), (0, 1), (1, 2)]);
    }
}
