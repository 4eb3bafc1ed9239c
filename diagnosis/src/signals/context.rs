//! The context each step is judged in, from the run's shape: where the step lies on the
//! throughput curve and what its neighbours in load order did.

use super::signal::{Ctx, Growth, Position};
use crate::model::StepRow;

/// Each step's context: its position on the throughput curve (past the knee, below it, no
/// plateau, or a single load level), the plateau's throughput, and its neighbours in load
/// order (growth into the step, the previous level's CPU).
pub fn step_contexts(
    rows: &[StepRow],
    knee: Option<usize>,
    order: &[usize],
    open: bool,
    syn_modes: bool,
) -> Vec<Ctx> {
    let mut loads: Vec<f64> = order.iter().map(|&i| rows[i].load).collect();
    loads.dedup();
    let base_mean_ms = order.first().map(|&i| rows[i].mean_ms).unwrap_or(0.0);
    let plateau_rps = knee.map(|k| {
        rows.iter()
            .filter(|r| r.load >= rows[k].load)
            .map(|r| r.ok_rps)
            .fold(rows[k].ok_rps, f64::max)
    });
    let growth = |a: &StepRow, b: &StepRow| {
        (a.load > 0.0 && a.ok_rps > 0.0 && b.load > a.load).then(|| Growth {
            load: b.load / a.load,
            throughput: b.ok_rps / a.ok_rps,
        })
    };
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let position = if loads.len() < 2 {
                Position::Single
            } else {
                match knee {
                    Some(k) if r.load >= rows[k].load => Position::Saturated,
                    Some(_) => Position::Scaling,
                    None => Position::NoPlateau,
                }
            };
            let at = order.iter().position(|&j| j == i);
            let prev = at
                .and_then(|p| order[..p].iter().rev().find(|&&j| rows[j].load < r.load))
                .map(|&j| &rows[j]);
            let next = at
                .and_then(|p| order[p + 1..].iter().find(|&&j| rows[j].load > r.load))
                .map(|&j| &rows[j]);
            Ctx {
                open,
                position,
                base_mean_ms,
                syn_modes,
                plateau_rps,
                growth: match (prev, next) {
                    (Some(a), _) => growth(a, r),
                    (None, Some(b)) => growth(r, b),
                    (None, None) => None,
                },
                prev_client_cores: prev
                    .and_then(|p| p.client_process.as_ref())
                    .map(|p| p.cores),
                prev_server_cores: prev
                    .and_then(|p| p.server_process.as_ref())
                    .map(|p| p.cores),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::{process, row};

    fn mk(n: f64, x: f64, cores: f64) -> StepRow {
        let mut r = row();
        r.load = n;
        r.ok_rps = x;
        r.rps = x;
        r.server_process = Some(process(cores, 2.0, &[]));
        r
    }

    #[test]
    fn positions_growth_and_the_previous_level() {
        let one = step_contexts(&[mk(20.0, 9000.0, 0.3)], None, &[0], false, false);
        assert_eq!(one[0].position, Position::Single);
        let rows = vec![
            mk(1.0, 1000.0, 0.5),
            mk(2.0, 1900.0, 0.9),
            mk(4.0, 2000.0, 1.0),
            mk(8.0, 2010.0, 1.0),
        ];
        let c = step_contexts(&rows, Some(1), &[0, 1, 2, 3], false, false);
        let pos: Vec<Position> = c.iter().map(|c| c.position).collect();
        use Position::*;
        assert_eq!(pos, vec![Scaling, Saturated, Saturated, Saturated]);
        assert_eq!(c[2].plateau_rps, Some(2010.0));
        // The lowest step looks forward, the others back.
        assert_eq!(
            c[0].growth,
            Some(Growth {
                load: 2.0,
                throughput: 1.9
            })
        );
        assert_eq!(
            c[2].growth,
            Some(Growth {
                load: 2.0,
                throughput: 2000.0 / 1900.0
            })
        );
        assert_eq!(c[0].prev_server_cores, None);
        assert_eq!(c[3].prev_server_cores, Some(1.0));
        let none = step_contexts(&rows, None, &[0, 1, 2, 3], true, true);
        assert!(
            none.iter()
                .all(|c| c.position == NoPlateau && c.open && c.syn_modes)
        );
        assert_eq!(none[0].base_mean_ms, 16.0);
    }
}
