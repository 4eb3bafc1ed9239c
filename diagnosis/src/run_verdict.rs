//! The run's verdict from the per-step verdicts, in this order: no request succeeded (said
//! as such, with the failure kinds); past a plateau's knee, a weighted vote of the saturated
//! steps; at a single load step, the step's verdict when a signal stood on its own, else
//! inconclusive with the reason; without a plateau, explicit socket, shedding or stall
//! signals, then a saturated shared machine where load bought little throughput, else
//! "still scaling" with how far the USL peak lies. Steps other processes crowded are named
//! in the limitations.

use crate::format::{fmt_num, load_label};
use crate::model::{Evidence, ServerBound, StepRow, Usl, Verdict, VerdictKind};
use crate::plateau;
use crate::signals::advice;
use crate::signals::before_handler::BEFORE_HANDLER_SIGNAL;
use crate::signals::classify::StepClass;
use crate::signals::disturbed::Disturbed;
use crate::signals::machine::SharedMachine;
use crate::signals::no_success::NoSuccess;
use satlab_record::Failure;
use std::collections::BTreeMap;

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
            None,
        );
    }
    let mut loads: Vec<f64> = order.iter().map(|&i| rows[i].load).collect();
    loads.dedup();
    let v = if let Some(v) = no_success(rows, classes, order, open, limitations) {
        v
    } else if let Some(k) = knee {
        plateau_vote(rows, classes, k, order, open)
    } else if loads.len() < 2 {
        single_step(rows, classes, order, limitations)
    } else {
        no_plateau(rows, classes, order, usl, open)
    };
    name_disturbances(rows, classes, open, limitations);
    v
}

/// Every step failed (nearly) every request: there is no throughput curve to read.
fn no_success(
    rows: &[StepRow],
    classes: &[StepClass],
    order: &[usize],
    open: bool,
    limitations: &mut Vec<String>,
) -> Option<Verdict> {
    if !rows
        .iter()
        .all(|r| r.ok_rps <= 0.0 || NoSuccess::ok_share(r) <= NoSuccess::SUCCESS_SHARE)
    {
        return None;
    }
    let by_load: Vec<usize> = if order.is_empty() {
        (0..rows.len()).collect()
    } else {
        order.to_vec()
    };
    // The explicit signals still name the cause: sockets, then shedding.
    let pick = by_load
        .iter()
        .rev()
        .find(|&&i| classes[i].kind == VerdictKind::Socket)
        .or_else(|| {
            by_load
                .iter()
                .rev()
                .find(|&&i| classes[i].bound == Some(ServerBound::Shedding))
        })
        .copied();
    let mut failures: BTreeMap<Failure, u64> = BTreeMap::new();
    for r in rows {
        for (k, n) in &r.errors {
            *failures.entry(*k).or_insert(0) += n;
        }
    }
    let mut kinds: Vec<(Failure, u64)> = failures.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    let kinds = if kinds.is_empty() {
        "no failure kind recorded".to_string()
    } else {
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {}", fmt_num(*n as f64)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let requests: u64 = rows.iter().map(|r| r.requests).sum();
    let ok: f64 = rows.iter().map(|r| r.ok_rps).sum();
    let span = match (by_load.first(), by_load.last()) {
        (Some(&a), Some(&b)) if a != b => format!(
            "at any of the {} steps ({} … {})",
            rows.len(),
            load_label(&rows[a], open),
            load_label(&rows[b], open)
        ),
        _ => "at its only step".to_string(),
    };
    let said = if ok <= 0.0 {
        "no request succeeded"
    } else {
        "nearly no request succeeded"
    };
    limitations.push(format!(
        "{said} {span}: throughput is zero, so there is no plateau or scaling to measure"
    ));
    let mut evidence = vec![Evidence {
        signal: "ok_share".into(),
        value: ok / rows.iter().map(|r| r.rps).sum::<f64>().max(1e-9),
        threshold: NoSuccess::SUCCESS_SHARE,
        comparison: "<=".into(),
        text: format!(
            "{said} {span}: {} requests failed ({kinds})",
            fmt_num(requests as f64)
        ),
    }];
    Some(match pick {
        Some(i) => {
            let c = &classes[i];
            evidence.extend(
                c.evidence
                    .iter()
                    .filter(|e| e.signal != "ok_share")
                    .cloned(),
            );
            make(
                c.kind,
                c.bound,
                c.confidence,
                format!("{}: {said} — {}", what(c.kind, c.bound), kinds),
                evidence,
                c.stall_kind,
            )
        }
        None => make(
            VerdictKind::Inconclusive,
            None,
            0.5,
            format!("inconclusive: {said} ({kinds}); there is no throughput to diagnose"),
            evidence,
            None,
        ),
    })
}

/// Past the knee: a weighted vote of the saturated steps.
fn plateau_vote(
    rows: &[StepRow],
    classes: &[StepClass],
    k: usize,
    order: &[usize],
    open: bool,
) -> Verdict {
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
    let Some(((kind, bound), weight, at)) = votes
        .iter()
        .max_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(rows[a.2].load.total_cmp(&rows[b.2].load))
        })
        .cloned()
    else {
        return make(
            VerdictKind::Inconclusive,
            None,
            0.1,
            "inconclusive: no saturated step".into(),
            Vec::new(),
            None,
        );
    };
    let agreement = weight / total;
    let c = &classes[at];
    let mut evidence = vec![plateau_evidence(rows, order, k, open)];
    evidence.extend(c.evidence.iter().cloned());
    let (kind, bound) = if kind == VerdictKind::Scaling {
        (VerdictKind::Inconclusive, None)
    } else {
        (kind, bound)
    };
    let max_x = rows
        .iter()
        .filter(|r| r.load >= knee_load)
        .map(|r| r.ok_rps)
        .fold(0.0, f64::max);
    let headline = format!(
        "{}: throughput plateaus at ~{} req/s from {}{}",
        what(kind, bound),
        fmt_num(max_x),
        load_label(&rows[k], open),
        if agreement < 1.0 {
            format!(" ({:.0}% of saturated steps agree)", agreement * 100.0)
        } else {
            String::new()
        }
    );
    make(
        kind,
        bound,
        c.confidence * (0.6 + 0.4 * agreement),
        headline,
        evidence,
        c.stall_kind,
    )
}

/// One load level: the step's own verdict when a signal stood on its own.
fn single_step(
    rows: &[StepRow],
    classes: &[StepClass],
    order: &[usize],
    limitations: &mut Vec<String>,
) -> Verdict {
    limitations.push("a single load step: a plateau cannot be observed".into());
    let i = order.last().copied().unwrap_or(rows.len() - 1);
    let c = &classes[i];
    if matches!(c.kind, VerdictKind::Scaling | VerdictKind::Inconclusive) {
        return make(
            VerdictKind::Inconclusive,
            None,
            0.2,
            "inconclusive: one load step, and no signal that stands without a plateau".into(),
            c.evidence.clone(),
            None,
        );
    }
    make(
        c.kind,
        c.bound,
        c.confidence * 0.7,
        format!(
            "{} at the only load step (no plateau observable)",
            c.verdict().label
        ),
        c.evidence.clone(),
        c.stall_kind,
    )
}

/// No plateau across several load levels.
fn no_plateau(
    rows: &[StepRow],
    classes: &[StepClass],
    order: &[usize],
    usl: &Usl,
    open: bool,
) -> Verdict {
    // Explicit socket, shedding or stall signals still decide.
    if let Some(&i) = order.iter().rev().find(|&&i| {
        classes[i].kind == VerdictKind::Socket
            || matches!(
                classes[i].bound,
                Some(ServerBound::Shedding | ServerBound::Stall)
            )
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
            c.stall_kind,
        );
    }

    let (first, a, b) = (
        &rows[order[0]],
        &rows[order[order.len() - 2]],
        &rows[order[order.len() - 1]],
    );
    // A machine saturated from the first step, with load buying little throughput: the
    // client competes with the server, it is not scaling.
    if classes[order[0]].kind == VerdictKind::Machine && first.ok_rps > 0.0 {
        let (rx, rn) = (b.ok_rps / first.ok_rps, b.load / first.load);
        let eff = (rx - 1.0) / (rn - 1.0);
        if eff < SharedMachine::SCALING_EFFICIENCY {
            let at = order
                .iter()
                .rev()
                .copied()
                .find(|&i| classes[i].kind == VerdictKind::Machine)
                .unwrap_or(order[0]);
            let busy: Vec<f64> = order.iter().filter_map(|&i| rows[i].system_cpu).collect();
            let lo = busy.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = busy.iter().copied().fold(0.0, f64::max);
            let mut evidence = vec![Evidence {
                signal: "scaling_efficiency".into(),
                value: eff,
                threshold: SharedMachine::SCALING_EFFICIENCY,
                comparison: "<".into(),
                text: format!(
                    "from {} to {} throughput grew ×{rx:.2} while load grew ×{rn:.2}",
                    load_label(first, open),
                    load_label(b, open)
                ),
            }];
            evidence.extend(
                classes[at]
                    .evidence
                    .iter()
                    .filter(|e| e.signal != "scaling_efficiency")
                    .cloned(),
            );
            return make(
                VerdictKind::Machine,
                None,
                classes[at].confidence,
                format!(
                    "machine: the CPUs are saturated from {} ({:.0}% → {:.0}%), shared by client and server; load ×{rn:.2} bought throughput ×{rx:.2}",
                    load_label(first, open),
                    lo * 100.0,
                    hi * 100.0
                ),
                evidence,
                None,
            );
        }
    }

    // Still scaling.
    let axis = if open { "offered rate" } else { "N" };
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
    if classes.iter().any(|c| c.disturbance.is_some()) {
        conf *= Disturbed::CONFIDENCE_FACTOR;
    }
    make(
        VerdictKind::Scaling,
        None,
        conf,
        format!(
            "still scaling: no plateau up to {}{distance}",
            load_label(b, open)
        ),
        evidence,
        None,
    )
}

/// Name the steps other processes crowded, and who waited how much (ranges over those
/// steps; each step's own evidence has the details).
fn name_disturbances(
    rows: &[StepRow],
    classes: &[StepClass],
    open: bool,
    limitations: &mut Vec<String>,
) {
    let hit: Vec<(&StepRow, &[Evidence])> = rows
        .iter()
        .zip(classes)
        .filter_map(|(r, c)| Some((r, c.disturbance.as_ref()?.evidence.as_slice())))
        .collect();
    let (Some(first), Some(last)) = (hit.first(), hit.last()) else {
        return;
    };
    let steps = if hit.len() == 1 {
        format!("at step {} ({})", first.0.index, load_label(first.0, open))
    } else {
        format!(
            "at {} of {} steps ({} … {})",
            hit.len(),
            rows.len(),
            load_label(first.0, open),
            load_label(last.0, open)
        )
    };
    let values = |signal: &str| -> Vec<f64> {
        hit.iter()
            .flat_map(|(_, ev)| ev.iter().filter(|e| e.signal == signal).map(|e| e.value))
            .collect()
    };
    let mut who = Vec::new();
    let crowded: Vec<&StepRow> = hit
        .iter()
        .filter(|(_, ev)| ev.iter().any(|e| e.signal == "other_cores"))
        .map(|(r, _)| *r)
        .collect();
    if !crowded.is_empty() {
        let cores: Vec<f64> = crowded.iter().filter_map(|r| r.other_cores).collect();
        let busy: Vec<f64> = crowded
            .iter()
            .filter_map(|r| r.system_cpu.map(|u| u * 100.0))
            .collect();
        let cpus = crowded
            .iter()
            .filter_map(|r| r.machine_cpus)
            .max()
            .unwrap_or(0);
        who.push(format!(
            "other processes used {} of the machine's {cpus} CPUs while it was {}% busy",
            range(&cores, 2),
            range(&busy, 0)
        ));
    }
    let stolen: Vec<f64> = values("steal").iter().map(|s| s * 100.0).collect();
    if !stolen.is_empty() {
        who.push(format!(
            "the hypervisor gave {}% of the machine's CPU time to other guests (steal)",
            range(&stolen, 0)
        ));
    }
    for side in ["server", "client"] {
        let w = values(&format!("{side}_run_queue_wait"));
        if !w.is_empty() {
            who.push(format!(
                "the {side}'s threads waited {} thread-s/s for a CPU",
                range(&w, 2)
            ));
        }
    }
    limitations.push(format!(
        "the run was disturbed {steps}: {}; those steps' figures are the other processes' as much as the system's (confidence lowered)",
        who.join("; ")
    ));
}

/// `1.81–1.84`, or one figure when they agree at `decimals`.
fn range(v: &[f64], decimals: usize) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return "–".into();
    }
    let (a, b) = (format!("{lo:.decimals$}"), format!("{hi:.decimals$}"));
    if a == b { a } else { format!("{a}–{b}") }
}

/// `server (CPU)`, `socket`, `machine`, ...
fn what(kind: VerdictKind, bound: Option<ServerBound>) -> String {
    match (kind, bound) {
        (VerdictKind::Server, Some(b)) => format!("server ({})", b.title()),
        (k, _) => k.name().to_string(),
    }
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
    stall: Option<satlab_record::EventKind>,
) -> Verdict {
    Verdict {
        kind,
        server_bound: bound,
        confidence: confidence.clamp(0.05, 0.99),
        headline,
        confirm: if kind == VerdictKind::Socket
            && evidence.iter().any(|e| e.signal == BEFORE_HANDLER_SIGNAL)
        {
            advice::confirm_way_in()
        } else {
            advice::confirm(kind, bound, stall)
        },
        evidence,
    }
}
