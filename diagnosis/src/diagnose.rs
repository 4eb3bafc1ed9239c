//! The diagnosis: why throughput plateaued (client, server or socket), the USL fit, and
//! periodic latency spikes tied to server events — a deterministic function of the run
//! directory.
//!
//! [`diagnose`] is the pure core over a [`DiagnosisInput`]; [`diagnose_dir`] loads a run
//! directory first; [`diagnose_and_write`] also writes `diagnosis.json`, `report.txt` and
//! `report.html` into it.

pub mod cli;
pub mod input;
pub mod model;
pub mod modes;
pub mod plateau;
pub mod rng;
pub mod spikes;
pub mod steps;
pub mod synth;
pub mod usl;
pub mod verdict;

pub use input::{DiagnosisInput, RequestSource, load_dir};
pub use model::*;

use satlab_record::summary::LoadMode;
use satlab_record::{RecordError, RunDir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use verdict::{Ctx, StepClass};

/// Why a diagnosis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiagnosisError {
    /// The directory is not a run directory.
    #[error("{path} is not a run directory: {why}")]
    NotARunDir {
        /// The directory given.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A run file could not be read or parsed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A JSON-lines file has a bad line.
    #[error("{path}: line {line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}

/// Diagnose a run directory.
pub fn diagnose_dir(dir: &Path) -> Result<Diagnosis, DiagnosisError> {
    diagnose(&load_dir(dir)?)
}

/// Diagnose a run directory and write `diagnosis.json`, `report.txt` and `report.html`
/// into it (each atomically).
pub fn diagnose_and_write(dir: &Path) -> Result<Diagnosis, DiagnosisError> {
    let d = diagnose_dir(dir)?;
    let run = RunDir::new(dir);
    satlab_record::fsio::write_json(&run.diagnosis_json(), &d)?;
    satlab_record::fsio::write_atomic(
        &run.report_txt(),
        crate::report::text::render(&d).as_bytes(),
    )?;
    satlab_record::fsio::write_atomic(
        &run.report_html(),
        crate::report::html::render(&d).as_bytes(),
    )?;
    Ok(d)
}

/// Diagnose in-memory inputs: the pure core.
pub fn diagnose(input: &DiagnosisInput) -> Result<Diagnosis, DiagnosisError> {
    let s = &input.summary;
    let open = s.mode == LoadMode::Open;
    let mut limitations = input.notes.clone();
    let mut rows = steps::build_rows(input);

    // The per-request series, in start order.
    let mut reqs: Vec<spikes::Req> = Vec::new();
    let mut hist = satlab_record::histogram::new_latency_histogram();
    for r in input.request_iter()? {
        let r = r?;
        satlab_record::histogram::record_clamped(&mut hist, u64::from(r.latency_us));
        reqs.push(spikes::Req {
            start_us: r.start_us,
            lat_us: r.latency_us,
            step: r.step,
        });
    }
    reqs.sort_unstable();
    let syn_modes = modes::syn_modes(&hist);
    let spikes = if reqs.is_empty() {
        if matches!(input.requests, RequestSource::None) && input.notes.is_empty() {
            limitations.push("no per-request log: no spike or latency-mode analysis".into());
        }
        Spikes {
            detected: false,
            count: 0,
            outliers: 0,
            period: None,
            cause: None,
            explains: None,
            text: "no per-request log".into(),
            marks: Vec::new(),
        }
    } else {
        spikes::analyse(
            &reqs,
            &input.events,
            s.started_unix_ns,
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
        )
    };
    let mut timeline = spikes::timeline(&reqs, &input.events, s.started_unix_ns);
    timeline.step_starts_s = s.steps.iter().map(|st| st.start_us as f64 / 1e6).collect();
    drop(reqs);

    // Plateau, per-step verdicts.
    let knee = plateau::detect(&rows);
    let order = plateau::load_order(&rows);
    let base_mean_ms = order.first().map(|&i| rows[i].mean_ms).unwrap_or(0.0);
    let classes: Vec<StepClass> = rows
        .iter()
        .map(|r| {
            let saturated = match knee {
                Some(k) => r.load >= rows[k].load,
                None => rows.len() == 1,
            };
            verdict::classify(
                r,
                &Ctx {
                    open,
                    saturated,
                    base_mean_ms,
                    syn_modes: !syn_modes.is_empty(),
                },
            )
        })
        .collect();
    for (r, c) in rows.iter_mut().zip(&classes) {
        r.verdict = c.verdict();
    }

    let plateau = plateau_report(&rows, knee, open);
    let usl = usl_report(&rows, open);
    let mut verdict = run_verdict(&rows, &classes, knee, &order, &usl, open, &mut limitations);

    // Limitations that lower confidence.
    let has_server = input
        .processes
        .iter()
        .any(|p| p.role == satlab_record::samples::Role::Server);
    if !has_server {
        limitations.push(
            "no server CPU samples: CPU-bound and pool/I/O-bound servers cannot be told apart"
                .into(),
        );
        if !matches!(
            verdict.kind,
            VerdictKind::Scaling | VerdictKind::Inconclusive
        ) {
            verdict.confidence *= 0.8;
        }
    }
    if input.kernel.is_empty() {
        limitations
            .push("no kernel counter samples: listen drops and SYN retransmits unknown".into());
    }
    if s.interrupted
        || input
            .manifest
            .as_ref()
            .is_some_and(|m| m.status == satlab_record::manifest::RunStatus::Interrupted)
    {
        limitations.push(format!(
            "the run was interrupted ({}): the last step may be short",
            s.interrupt_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        ));
        verdict.confidence *= 0.9;
    }
    if !input.kernel.is_empty()
        && input
            .manifest
            .as_ref()
            .is_some_and(|m| m.network.as_deref() == Some("host"))
    {
        limitations.push(
            "the run shared the host's network: kernel TCP counters are machine-wide and may \
             include other programs' traffic (run as root for a private namespace)"
                .into(),
        );
    }
    if open {
        limitations.push(
            "open-loop run: the offered rate (requests/s) is the load axis instead of concurrency"
                .into(),
        );
    }
    if input.events.is_empty() && spikes.count > 0 {
        limitations.push("no server events received: spikes cannot be tied to a cause".into());
    }
    verdict.confidence = (verdict.confidence * 100.0).round() / 100.0;

    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        for (k, v) in &r.errors {
            *errors.entry(k.clone()).or_insert(0) += v;
        }
    }
    let duration_s = s.ended_unix_ns.saturating_sub(s.started_unix_ns) as f64 / 1e9;
    Ok(Diagnosis {
        schema: SCHEMA.into(),
        run: RunInfo {
            scenario: input.manifest.as_ref().and_then(|m| m.scenario.clone()),
            mode: if open { "open" } else { "closed" }.into(),
            load_axis: if open { "rate" } else { "concurrency" }.into(),
            connection: match s.connection {
                satlab_record::summary::ConnectionMode::KeepAlive => "keep_alive",
                satlab_record::summary::ConnectionMode::NewConnection => "new_connection",
            }
            .into(),
            method: s.method.clone(),
            url: s.url.clone(),
            plan: s.plan.clone(),
            requests: hist.len(),
            duration_s,
            interrupted: s.interrupted,
        },
        verdict,
        plateau,
        usl,
        steps: rows,
        spikes,
        syn_retransmit_modes: syn_modes,
        errors,
        timeline,
        limitations,
    })
}

/// `N = 32` or `120 req/s offered`.
pub(crate) fn load_label(row: &StepRow, open: bool) -> String {
    if open {
        format!("{} req/s offered", fmt_num(row.load))
    } else {
        format!("N = {}", fmt_num(row.load))
    }
}

/// A number with thousands separators and no decimals past what matters.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x.abs() < 10.0 && x.fract() != 0.0 {
        return format!("{x:.2}");
    }
    if x.abs() < 100.0 && x.fract() != 0.0 {
        return format!("{x:.1}");
    }
    let v = x.round() as i64;
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0 { format!("-{out}") } else { out }
}

fn plateau_report(rows: &[StepRow], knee: Option<usize>, open: bool) -> Plateau {
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
            text: "no plateau: throughput kept growing with load".into(),
        },
    }
}

fn usl_report(rows: &[StepRow], open: bool) -> Usl {
    let none = |reason: String, points: usize| Usl {
        sigma: None,
        kappa: None,
        lambda: None,
        n_star: None,
        x_max: None,
        r2: None,
        points,
        reason: Some(reason),
    };
    if open {
        return none(
            "open-loop run: the USL models throughput against concurrency; not fitted to offered rates".into(),
            0,
        );
    }
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.load > 0.0)
        .map(|r| (r.load, r.ok_rps))
        .collect();
    match usl::fit(&pts) {
        Ok(f) => Usl {
            sigma: Some(f.sigma),
            kappa: Some(f.kappa),
            lambda: Some(f.lambda),
            n_star: f.n_star(),
            x_max: Some(f.x_max()).filter(|x| x.is_finite()),
            r2: Some(f.r2),
            points: pts.len(),
            reason: None,
        },
        Err(e) => none(e.to_string(), pts.len()),
    }
}

fn run_verdict(
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
