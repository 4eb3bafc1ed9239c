//! Plateau detection: the step after which more offered load stops buying throughput.

use crate::format::{fmt_num, load_label};
use crate::model::{Plateau, StepRow};

/// Throughput grew by at most this factor from one step to the next: "near 1". Run-to-run
/// noise of a loopback benchmark is a few percent, so 10% separates noise from growth.
pub const PLATEAU_MAX_GROWTH: f64 = 1.10;
/// ...and it turned at most this share of the added load into throughput (X_{i+1}/X_i − 1
/// over N_{i+1}/N_i − 1): "well below the load ratio". Linear scaling is 1; contention in a
/// scaling system keeps it well above 0.3 until the knee.
pub const PLATEAU_MAX_EFFICIENCY: f64 = 0.30;
/// After the knee, a later step exceeding the knee's throughput by more than this factor
/// (with efficient growth, see [`PLATEAU_MAX_EFFICIENCY`]) means throughput was only
/// pausing, not plateauing.
pub const PLATEAU_RESUME_GROWTH: f64 = 1.15;

/// Step rows in order of offered load (the plan's order among equal loads).
pub fn load_order(rows: &[StepRow]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].load > 0.0).collect();
    idx.sort_by(|&a, &b| rows[a].load.total_cmp(&rows[b].load).then(a.cmp(&b)));
    idx
}

/// The knee: the position (in `rows`) of the first step whose successor in load order
/// barely grew throughput while load grew, and after which throughput never resumes.
pub fn detect(rows: &[StepRow]) -> Option<usize> {
    let order = load_order(rows);
    for w in 0..order.len().saturating_sub(1) {
        let (a, b) = (&rows[order[w]], &rows[order[w + 1]]);
        if b.load <= a.load || a.ok_rps <= 0.0 {
            continue;
        }
        let rx = b.ok_rps / a.ok_rps;
        let rn = b.load / a.load;
        let eff = (rx - 1.0) / (rn - 1.0);
        if rx <= PLATEAU_MAX_GROWTH && eff <= PLATEAU_MAX_EFFICIENCY {
            // Scaling resumes only when a later step beats the knee by a clear margin AND
            // turns the extra load into throughput efficiently; a noisy step that is 20%
            // higher at 16× the load is still the plateau.
            let resumes = order[w + 1..].iter().any(|&k| {
                let r = &rows[k];
                let gx = r.ok_rps / a.ok_rps;
                let gn = r.load / a.load;
                gx > PLATEAU_RESUME_GROWTH
                    && gn > 1.0
                    && (gx - 1.0) / (gn - 1.0) > PLATEAU_MAX_EFFICIENCY
            });
            if !resumes {
                return Some(order[w]);
            }
        }
    }
    None
}

/// The plateau as reported: the knee (from [`detect`]) and the highest throughput at or
/// beyond it.
pub(crate) fn report(rows: &[StepRow], knee: Option<usize>, open: bool) -> Plateau {
    match knee {
        Some(k) => {
            let r = &rows[k];
            let max_x = rows
                .iter()
                .filter(|x| x.load >= r.load)
                .map(|x| x.ok_rps)
                .fold(r.ok_rps, f64::max);
            Plateau {
                detected: true,
                step: Some(r.index),
                concurrency: r.concurrency,
                target_rate: r.target_rate,
                rps: Some(max_x),
                text: format!(
                    "throughput plateaus at ~{} req/s from step {} ({})",
                    fmt_num(max_x),
                    r.index,
                    load_label(r, open)
                ),
            }
        }
        None => Plateau {
            detected: false,
            step: None,
            concurrency: None,
            target_rate: None,
            rps: None,
            text: if !rows.is_empty() && rows.iter().all(|r| r.ok_rps <= 0.0) {
                "no throughput: no request succeeded at any step".into()
            } else if load_order(rows)
                .windows(2)
                .all(|w| rows[w[0]].load == rows[w[1]].load)
            {
                "no plateau observable: one load level".into()
            } else {
                "no plateau: throughput kept growing with load".into()
            },
        },
    }
}
