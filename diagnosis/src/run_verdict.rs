//! The run's verdict from the per-step verdicts: a weighted vote of the saturated steps
//! past the knee, or, without a plateau, the explicit socket/shedding signals, else
//! "still scaling" with how far the USL peak lies.

use crate::format::{fmt_num, load_label};
use crate::model::{Evidence, ServerBound, StepRow, Usl, Verdict, VerdictKind};
use crate::plateau;
use crate::verdict::{self, StepClass};

/// Decide the run's verdict; adds what the data could not support to `limitations`.
pub(crate) fn run_verdict(
    rows: &[StepRow],
    classes: &[StepClass],
    knee: Option<usize>,
    order: &[usize],
    usl: &Usl,
    open: bool,
    limitations: &mut Vec<String>,
) -> Verdict {
    if rows.is_empty() {
        limitations.push("no step completed any request".into());
        return make(
            VerdictKind::Inconclusive,
            None,
            0.1,
            "inconclusive: no step completed any request".into(),
            Vec::new(),
        );
    }
    let axis = if open { "offered rate" } else { "N" };
    if let Some(k) = knee {
        let knee_load = rows[k].load;
        let mut sat: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| rows[i].load > knee_load)
            .collect();
        if sat.is_empty() {
            sat.push(k);
        }
        // Weighted vote: heavier steps are more saturated, so they weigh more.
        let mut votes: Vec<((VerdictKind, Option<ServerBound>), f64, usize)> = Vec::new();
        for (w, &i) in sat.iter().enumerate() {
            let key = (classes[i].kind, classes[i].bound);
            let weight = 1.0 + w as f64 / sat.len() as f64;
            match votes.iter_mut().find(|v| v.0 == key) {
                Some(v) => {
                    v.1 += weight;
                    v.2 = i;
                }
                None => votes.push((key, weight, i)),
            }
        }
        let total: f64 = votes.iter().map(|v| v.1).sum();
        let best = votes
            .iter()
            .max_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then(rows[a.2].load.total_cmp(&rows[b.2].load))
            })
            .cloned()
            .expect("at least one saturated step");
        let ((kind, bound), weight, at) = best;
        let agreement = weight / total;
        let c = &classes[at];
        let mut evidence = vec![plateau_evidence(rows, order, k, open)];
        evidence.extend(c.evidence.iter().cloned());
        let (kind, bound) = if kind == VerdictKind::Scaling {
            (VerdictKind::Inconclusive, None)
        } else {
            (kind, bound)
        };
        let what = match (kind, bound) {
            (VerdictKind::Server, Some(b)) => format!(
                "server ({})",
                match b {
                    ServerBound::Cpu => "CPU",
                    ServerBound::PoolIo => "pool/I/O",
                    ServerBound::Shedding => "shedding",
                }
            ),
            (k, _) => k.name().to_string(),
        };
        let max_x = rows
            .iter()
            .filter(|r| r.load >= knee_load)
            .map(|r| r.ok_rps)
            .fold(0.0, f64::max);
        let headline = format!(
            "{what}: throughput plateaus at ~{} req/s from {}{}",
            fmt_num(max_x),
            load_label(&rows[k], open),
            if agreement < 1.0 {
                format!(" ({:.0}% of saturated steps agree)", agreement * 100.0)
            } else {
                String::new()
            }
        );
        let _ = axis;
        return make(
            kind,
            bound,
            c.confidence * (0.6 + 0.4 * agreement),
            headline,
            evidence,
        );
    }

    if rows.len() == 1 || order.len() < 2 {
        limitations.push("a single load step: a plateau cannot be observed".into());
        let c = &classes[order.first().copied().unwrap_or(0)];
        if matches!(c.kind, VerdictKind::Scaling | VerdictKind::Inconclusive) {
            return make(
                VerdictKind::Inconclusive,
                None,
                0.2,
                "inconclusive: one load step and no saturation signal".into(),
                c.evidence.clone(),
            );
        }
        return make(
            c.kind,
            c.bound,
            c.confidence * 0.7,
            format!(
                "{} at the only load step (no plateau observable)",
                c.verdict().label
            ),
            c.evidence.clone(),
        );
    }

    // No plateau: explicit socket or shedding signals still decide.
    if let Some(&i) = order.iter().rev().find(|&&i| {
        classes[i].kind == VerdictKind::Socket || classes[i].bound == Some(ServerBound::Shedding)
    }) {
        let c = &classes[i];
        return make(
            c.kind,
            c.bound,
            c.confidence * 0.8,
            format!(
                "{} at {} although throughput still grows",
                c.verdict().label,
                load_label(&rows[i], open)
            ),
            c.evidence.clone(),
        );
    }

    // Still scaling.
    let (a, b) = (&rows[order[order.len() - 2]], &rows[order[order.len() - 1]]);
    let rx = if a.ok_rps > 0.0 {
        b.ok_rps / a.ok_rps
    } else {
        f64::NAN
    };
    let rn = b.load / a.load;
    let mut evidence = vec![Evidence {
        signal: "throughput_growth".into(),
        value: rx,
        threshold: plateau::PLATEAU_MAX_GROWTH,
        comparison: ">".into(),
        text: format!(
            "from {} to {} throughput grew ×{rx:.2} while load grew ×{rn:.2}",
            load_label(a, open),
            load_label(b, open)
        ),
    }];
    let mut conf: f64 = 0.7;
    let distance = match (usl.n_star, usl.kappa) {
        (Some(ns), _) => {
            let far = ns / b.load;
            evidence.push(Evidence {
                signal: "n_star_over_max_load".into(),
                value: far,
                threshold: 1.0,
                comparison: ">".into(),
                text: format!(
                    "the USL peak N* ≈ {} is ×{far:.1} the highest tested {axis} ({})",
                    fmt_num(ns),
                    fmt_num(b.load)
                ),
            });
            if far > 1.5 {
                conf += 0.1;
            }
            format!("; fitted peak N* ≈ {} (×{far:.1} beyond)", fmt_num(ns))
        }
        (None, Some(_)) => {
            conf += 0.1;
            "; the USL fit has no peak (κ = 0)".to_string()
        }
        _ => String::new(),
    };
    make(
        VerdictKind::Scaling,
        None,
        conf,
        format!(
            "still scaling: no plateau up to {}{distance}",
            load_label(b, open)
        ),
        evidence,
    )
}

fn plateau_evidence(rows: &[StepRow], order: &[usize], k: usize, open: bool) -> Evidence {
    let pos = order.iter().position(|&i| i == k).unwrap_or(0);
    let next = order.get(pos + 1).map(|&i| &rows[i]);
    let a = &rows[k];
    match next {
        Some(b) => {
            let rx = b.ok_rps / a.ok_rps.max(1e-9);
            let rn = b.load / a.load.max(1e-9);
            Evidence {
                signal: "throughput_growth".into(),
                value: rx,
                threshold: plateau::PLATEAU_MAX_GROWTH,
                comparison: "<=".into(),
                text: format!(
                    "load ×{rn:.2} ({} → {}) bought throughput ×{rx:.2}",
                    load_label(a, open),
                    load_label(b, open)
                ),
            }
        }
        None => Evidence {
            signal: "throughput_growth".into(),
            value: 1.0,
            threshold: plateau::PLATEAU_MAX_GROWTH,
            comparison: "<=".into(),
            text: "throughput peaked at the highest load".into(),
        },
    }
}

fn make(
    kind: VerdictKind,
    bound: Option<ServerBound>,
    confidence: f64,
    headline: String,
    evidence: Vec<Evidence>,
) -> Verdict {
    Verdict {
        kind,
        server_bound: bound,
        confidence: confidence.clamp(0.05, 0.99),
        headline,
        evidence,
        confirm: verdict::confirm(kind, bound),
    }
}
