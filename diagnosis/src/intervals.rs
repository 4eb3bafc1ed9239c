//! A union of time intervals: how much of a window something covered, counting overlaps
//! once (two pauses that overlap stall the server once, not twice).

/// Disjoint, sorted half-open intervals `[start, end)`, in any one unit (ns here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals {
    spans: Vec<(u64, u64)>,
}

impl Intervals {
    /// The union of `items` (empty or reversed intervals are ignored).
    pub fn union(items: impl IntoIterator<Item = (u64, u64)>) -> Intervals {
        let mut v: Vec<(u64, u64)> = items.into_iter().filter(|(a, b)| b > a).collect();
        v.sort_unstable();
        let mut spans: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match spans.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => spans.push((a, b)),
            }
        }
        Intervals { spans }
    }

    /// The disjoint intervals, in order.
    pub fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// Total length covered.
    pub fn total(&self) -> u64 {
        self.spans.iter().map(|(a, b)| b - a).sum()
    }

    /// Length of `[from, to)` covered by the union.
    pub fn covered(&self, from: u64, to: u64) -> u64 {
        if to <= from {
            return 0;
        }
        // First interval that ends after `from`.
        let i = self.spans.partition_point(|&(_, b)| b <= from);
        self.spans[i..]
            .iter()
            .take_while(|&&(a, _)| a < to)
            .map(|&(a, b)| b.min(to) - a.max(from))
            .sum()
    }

    /// Intervals starting inside `[from, to)`.
    pub fn count_starting(&self, from: u64, to: u64) -> usize {
        self.spans
            .iter()
            .filter(|&&(a, _)| a >= from && a < to)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_count_once() {
        let u = Intervals::union([(10, 20), (15, 30), (40, 50), (5, 5), (60, 55)]);
        assert_eq!(u.spans(), &[(10, 30), (40, 50)]);
        assert_eq!(u.total(), 30);
    }

    #[test]
    fn covered_clips_to_the_window() {
        let u = Intervals::union([(10, 30), (40, 50)]);
        assert_eq!(u.covered(0, 100), 30);
        assert_eq!(u.covered(25, 45), 10);
        assert_eq!(u.covered(30, 40), 0);
        assert_eq!(u.covered(12, 13), 1);
        assert_eq!(u.covered(50, 10), 0);
        assert_eq!(u.count_starting(0, 40), 1);
        assert_eq!(u.count_starting(0, 41), 2);
    }
}
