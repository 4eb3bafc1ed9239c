//! Metric points over a time window, as received (cumulative or delta): the time-average
//! of an up-down counter and the increase of a histogram. A metric is a set of series, one
//! per service and attribute set; each series is read on its own and the results added.

use satlab_record::MetricPoint;
use std::collections::BTreeMap;

/// A series' identity: its service and attributes.
type SeriesKey<'a> = (&'a str, Vec<(&'a str, &'a str)>);

/// The points of metric `name`, by series (service and attributes), in time order.
fn series<'a>(points: &'a [MetricPoint], name: &str) -> Vec<Vec<&'a MetricPoint>> {
    let mut by: BTreeMap<SeriesKey<'a>, Vec<&MetricPoint>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.name == name) {
        let attrs = p
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        by.entry((p.service.as_str(), attrs)).or_default().push(p);
    }
    by.into_values()
        .map(|mut v| {
            v.sort_by_key(|p| p.t_unix_ns);
            v
        })
        .collect()
}

/// The time-average over `[from, to)` of an up-down counter (or gauge) such as
/// `http.server.active_requests`: each series is a step function (a point's level holds
/// until the series' next point; a delta series is summed from 0 to its level), averaged
/// over the part of the window it covers; the series' averages are added. `None` when no
/// series covers any of the window.
pub fn time_average(points: &[MetricPoint], name: &str, from: u64, to: u64) -> Option<f64> {
    if to <= from {
        return None;
    }
    let mut total = 0.0;
    let mut any = false;
    for s in series(points, name) {
        let mut level = 0.0;
        let mut integral = 0.0;
        let mut covered = 0u64;
        for (i, p) in s.iter().enumerate() {
            let Some(v) = p.value.filter(|v| v.is_finite()) else {
                continue;
            };
            level = if p.temporality == "delta" {
                level + v
            } else {
                v
            };
            let Some(next) = s.get(i + 1) else { break };
            let (a, b) = (p.t_unix_ns.max(from), next.t_unix_ns.min(to));
            if b > a {
                integral += level * (b - a) as f64;
                covered += b - a;
            }
        }
        if covered > 0 {
            total += integral / covered as f64;
            any = true;
        }
    }
    any.then_some(total)
}

/// A histogram's increase over a window: values recorded and their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Increase {
    /// Values recorded.
    pub count: u64,
    /// Their sum, in the metric's unit.
    pub sum: f64,
}

impl Increase {
    /// The mean recorded value (`None` when nothing was recorded).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// A histogram's increase over `(from, to]`, summed over its series. Cumulative series:
/// the last point at or before `to` minus the last one at or before `from` (none, or an
/// accumulation that restarted in between: from zero), so the window is read to within one
/// export interval. Delta series: the points whose time is in `(from, to]`. `None` when no
/// series has a point in the window.
pub fn histogram_increase(
    points: &[MetricPoint],
    name: &str,
    from: u64,
    to: u64,
) -> Option<Increase> {
    let mut inc = Increase::default();
    let mut any = false;
    let read = |p: &MetricPoint| (p.count.unwrap_or(0), p.sum.unwrap_or(0.0));
    for s in series(points, name) {
        let in_window: Vec<&&MetricPoint> = s
            .iter()
            .filter(|p| p.t_unix_ns > from && p.t_unix_ns <= to && p.count.is_some())
            .collect();
        let Some(last) = in_window.last() else {
            continue;
        };
        any = true;
        if last.temporality == "delta" {
            for p in &in_window {
                let (c, x) = read(p);
                inc.count += c;
                inc.sum += x;
            }
            continue;
        }
        let base = s
            .iter()
            .rev()
            .find(|p| p.t_unix_ns <= from && p.count.is_some());
        let (c1, x1) = read(last);
        let (c0, x0) = match base {
            Some(b) if b.start_unix_ns == last.start_unix_ns && read(b).0 <= c1 => read(b),
            _ => (0, 0.0),
        };
        inc.count += c1 - c0;
        inc.sum += x1 - x0;
    }
    any.then_some(inc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: u64, temporality: &str, attr: &str) -> MetricPoint {
        MetricPoint {
            t_unix_ns: t,
            start_unix_ns: 0,
            service: "target-api".into(),
            name: "m".into(),
            kind: "sum".into(),
            temporality: temporality.into(),
            attributes: [("a".to_string(), attr.to_string())].into_iter().collect(),
            value: None,
            count: None,
            sum: None,
            bounds: Vec::new(),
            bucket_counts: Vec::new(),
        }
    }

    fn level(t: u64, v: f64, temporality: &str, attr: &str) -> MetricPoint {
        MetricPoint {
            value: Some(v),
            ..point(t, temporality, attr)
        }
    }

    fn hist(t: u64, start: u64, count: u64, sum: f64, temporality: &str) -> MetricPoint {
        MetricPoint {
            start_unix_ns: start,
            kind: "histogram".into(),
            count: Some(count),
            sum: Some(sum),
            ..point(t, temporality, "x")
        }
    }

    #[test]
    fn levels_are_time_averaged_and_series_added() {
        // One series at 2 for [0, 10) then 6 for [10, 20); another constant 1.
        let pts = vec![
            level(0, 2.0, "cumulative", "POST"),
            level(10, 6.0, "cumulative", "POST"),
            level(20, 6.0, "cumulative", "POST"),
            level(0, 1.0, "cumulative", "GET"),
            level(20, 1.0, "cumulative", "GET"),
        ];
        assert_eq!(time_average(&pts, "m", 5, 15), Some(5.0));
        assert_eq!(time_average(&pts, "m", 0, 20), Some(5.0));
        // Only the covered part counts: after the last point nothing is known.
        assert_eq!(time_average(&pts, "m", 15, 40), Some(7.0));
        assert_eq!(time_average(&pts, "m", 30, 40), None);
        assert_eq!(time_average(&pts, "other", 0, 20), None);
        // A delta series adds up its changes.
        let d = vec![
            level(0, 3.0, "delta", "POST"),
            level(10, -1.0, "delta", "POST"),
            level(20, 0.0, "delta", "POST"),
        ];
        assert_eq!(time_average(&d, "m", 0, 20), Some(2.5));
    }

    #[test]
    fn histogram_increase_over_the_window() {
        let pts = vec![
            hist(10, 0, 100, 1.0, "cumulative"),
            hist(20, 0, 150, 2.0, "cumulative"),
            hist(30, 0, 250, 5.0, "cumulative"),
        ];
        let inc = histogram_increase(&pts, "m", 10, 30).unwrap();
        assert_eq!((inc.count, inc.sum), (150, 4.0));
        assert_eq!(inc.mean(), Some(4.0 / 150.0));
        // No point at or before the window's start: from zero.
        let inc = histogram_increase(&pts, "m", 5, 20).unwrap();
        assert_eq!((inc.count, inc.sum), (150, 2.0));
        // A restart in between (new start time): from zero.
        let restarted = vec![
            hist(10, 0, 100, 1.0, "cumulative"),
            hist(20, 15, 30, 0.5, "cumulative"),
        ];
        let inc = histogram_increase(&restarted, "m", 10, 20).unwrap();
        assert_eq!((inc.count, inc.sum), (30, 0.5));
        assert!(histogram_increase(&pts, "m", 30, 40).is_none());
        let delta = vec![
            hist(10, 0, 5, 1.0, "delta"),
            hist(20, 10, 7, 2.0, "delta"),
            hist(30, 20, 9, 4.0, "delta"),
        ];
        let inc = histogram_increase(&delta, "m", 10, 30).unwrap();
        assert_eq!((inc.count, inc.sum), (16, 6.0));
        assert_eq!(Increase::default().mean(), None);
    }
}
