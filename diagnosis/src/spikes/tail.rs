//! How much of the latency tail lies in slow bursts: the share of requests (not of bursts)
//! above the run's p99 and p99.9 that are inside a burst of a chosen set.

use super::bursts::Cluster;

/// Shares of the tail inside one set of bursts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TailShare {
    /// Of the requests above p99.
    pub p99: f64,
    /// Of the requests above p99.9.
    pub p999: f64,
}

/// The requests above the run's p99, collected from the series in start order: all the
/// tail shares need (about 1% of the series).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail {
    p99_us: u64,
    /// (index in the series, latency µs), in series order.
    above: Vec<(usize, u32)>,
}

impl Tail {
    /// Collects the requests slower than `p99_us`.
    pub fn new(p99_us: u64) -> Self {
        Tail {
            p99_us,
            above: Vec::new(),
        }
    }

    /// The series' next request, at `index`.
    pub fn push(&mut self, index: usize, latency_us: u32) {
        if u64::from(latency_us) > self.p99_us {
            self.above.push((index, latency_us));
        }
    }
}

/// For each mask over `clusters` (in position order; one flag per burst), the share of
/// requests above `p99_us` and above `p999_us` whose index lies inside a flagged burst.
/// One pass over the tail whatever the number of masks.
pub(crate) fn shares(
    tail: &Tail,
    clusters: &[Cluster],
    masks: &[Vec<bool>],
    p999_us: u64,
) -> Vec<TailShare> {
    let (mut above99, mut above999) = (0u64, 0u64);
    let mut in99 = vec![0u64; masks.len()];
    let mut in999 = vec![0u64; masks.len()];
    let mut c = 0usize;
    for &(i, lat) in &tail.above {
        let lat = u64::from(lat);
        while c < clusters.len() && clusters[c].last < i {
            c += 1;
        }
        let inside = (c < clusters.len() && clusters[c].first <= i).then_some(c);
        let tail999 = lat > p999_us;
        above99 += 1;
        above999 += u64::from(tail999);
        if let Some(c) = inside {
            for (m, mask) in masks.iter().enumerate() {
                if mask.get(c).copied().unwrap_or(false) {
                    in99[m] += 1;
                    in999[m] += u64::from(tail999);
                }
            }
        }
    }
    let frac = |s: u64, a: u64| if a == 0 { 0.0 } else { s as f64 / a as f64 };
    in99.iter()
        .zip(&in999)
        .map(|(&a, &b)| TailShare {
            p99: frac(a, above99),
            p999: frac(b, above999),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spikes::quiet::Quiet;
    use satlab_record::{ErrorKind, RequestRecord};

    fn req(i: u64, latency_us: u32) -> RequestRecord {
        RequestRecord {
            start_us: i * 1000,
            latency_us,
            status: 200,
            error: ErrorKind::None,
            step: 0,
        }
    }

    fn burst(first: usize, last: usize) -> Cluster {
        Cluster {
            ratio: 5.0,
            first,
            last,
            start_us: first as u64 * 1000,
            end_us: last as u64 * 1000 + 50_000,
            peak_us: 50_000,
            peak_end_us: last as u64 * 1000 + 50_000,
            release_index: last,
            quiet: Quiet {
                index: first,
                at_us: first as u64 * 1000,
                len_us: 0,
            },
            size: (last - first + 1) as u64,
            excess_us: 49_000,
        }
    }

    #[test]
    fn requests_not_bursts_are_counted() {
        // 1000 requests at 1 ms; a big burst of 8 slow requests at 100..108 (50 ms), a
        // small one of 2 at 500..502 (20 ms) and a lone 20 ms request outside any burst.
        let mut r: Vec<RequestRecord> = (0..1000).map(|i| req(i, 1000)).collect();
        for x in &mut r[100..108] {
            x.latency_us = 50_000;
        }
        for x in &mut r[500..502] {
            x.latency_us = 20_000;
        }
        r[800].latency_us = 20_000;
        let c = [burst(100, 107), burst(500, 501)];
        let masks = vec![
            vec![true, true],
            vec![true, false],
            vec![false, true],
            vec![],
        ];
        let tail = |p99_us| {
            let mut t = Tail::new(p99_us);
            r.iter()
                .enumerate()
                .for_each(|(i, x)| t.push(i, x.latency_us));
            t
        };
        let s = shares(&tail(1000), &c, &masks, 30_000);
        // 11 requests above p99 (8 + 2 + 1), 8 above p99.9.
        let want = [
            (10.0 / 11.0, 1.0),
            (8.0 / 11.0, 1.0),
            (2.0 / 11.0, 0.0),
            (0.0, 0.0),
        ];
        for (got, (p99, p999)) in s.iter().zip(want) {
            assert!((got.p99 - p99).abs() < 1e-12, "{s:?}");
            assert!((got.p999 - p999).abs() < 1e-12, "{s:?}");
        }
        // No tail at all: shares are zero, not NaN.
        let s = shares(&tail(60_000), &c, &masks, 60_000);
        assert!(s.iter().all(|s| s.p99 == 0.0 && s.p999 == 0.0));
    }
}
