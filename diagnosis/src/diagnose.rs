//! The diagnosis of one run: the per-step table, the plateau and its USL fit, per-step and
//! run verdicts, spikes, latency modes and the limitations of the data — a deterministic
//! function of the run directory.

use crate::decomposition;
use crate::error::DiagnosisError;
use crate::input::{DiagnosisInput, RequestSource, load_dir};
use crate::model::{Diagnosis, LoadAxis, RunInfo, SCHEMA, Spikes, VerdictKind};
use crate::modes;
use crate::plateau;
use crate::run_verdict;
use crate::signals::classify;
use crate::spikes::{self, SeriesScan};
use crate::start_order::{self, LogShape};
use crate::steps;
use crate::telemetry_drops;
use crate::usl;
use satlab_record::Failure;
use satlab_record::histogram::new_latency_histogram;
use satlab_record::summary::LoadMode;
use std::collections::BTreeMap;
use std::path::Path;

/// Diagnose a run directory.
pub fn diagnose_dir(dir: &Path) -> Result<Diagnosis, DiagnosisError> {
    diagnose(&load_dir(dir)?)
}

/// Diagnose in-memory inputs: the pure core.
pub fn diagnose(input: &DiagnosisInput) -> Result<Diagnosis, DiagnosisError> {
    let s = &input.summary;
    let open = s.mode == LoadMode::Open;
    let mut limitations = input.notes.clone();
    let mut rows = steps::build_rows(input);
    // Where the time went; fills the rows' handler concurrency and pool wait, which the
    // verdicts read.
    let where_time_went = decomposition::analyse(input, &mut rows);

    // The per-request series: one pass in file order for its shape, then one in start
    // order (see `start_order`), in memory bounded by the log's disorder, not its length.
    let mut shape = LogShape::read(input.request_chunks()?, input.histograms.is_none())?;
    let rebuilt;
    let hist = match &input.histograms {
        Some(h) => &h.overall,
        None => {
            rebuilt = shape.histogram.take().unwrap_or_else(new_latency_histogram);
            &rebuilt
        }
    };
    let syn_modes = modes::syn_modes(hist);
    let p99_us = hist.value_at_quantile(0.99);
    let series = match shape.last_start_us {
        None => None,
        Some(last_start_us) => {
            let segments = match shape.segments.clone() {
                Some(s) => s,
                None => start_order::segments(input.request_chunks()?, shape.disorder_us)?,
            };
            let mut scan = SeriesScan::new(segments, last_start_us, p99_us);
            start_order::for_each_in_start_order(
                input.request_chunks()?,
                shape.disorder_us,
                |r| scan.push(r),
            )?;
            Some(scan.finish(shape.last_end_us))
        }
    };
    let requests = shape.count;
    let spikes = match &series {
        None => {
            if matches!(input.requests, RequestSource::None) && input.notes.is_empty() {
                limitations.push(
                    if input.histograms.is_some() {
                        "no per-request log: no spike analysis"
                    } else {
                        "no per-request log: no spike or latency-mode analysis"
                    }
                    .into(),
                );
            }
            Spikes {
                text: "no per-request log".into(),
                ..Spikes::default()
            }
        }
        Some(series) => spikes::analyse(
            series,
            &input.events,
            &input.system,
            s.started_unix_ns,
            p99_us,
            hist.value_at_quantile(0.999),
        ),
    };
    let mut timeline = series
        .map(|x| x.timeline(&input.events, s.started_unix_ns))
        .unwrap_or_default();
    timeline.step_starts_s = s.steps.iter().map(|st| st.start_us as f64 / 1e6).collect();

    // Plateau, per-step verdicts: each step's signals, combined by precedence.
    let knee = plateau::detect(&rows);
    let order = plateau::load_order(&rows);
    let classes = classify::classify_steps(&rows, knee, &order, open, !syn_modes.is_empty());
    for (r, c) in rows.iter_mut().zip(&classes) {
        r.verdict = c.verdict();
    }

    let plateau = plateau::report(&rows, knee, open);
    let usl = usl::report(&rows, open);
    let mut verdict =
        run_verdict::run_verdict(&rows, &classes, knee, &order, &usl, open, &mut limitations);

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
    if let Some(line) = telemetry_drops::limitation(&input.metrics) {
        limitations.push(line);
    }
    if input.events.is_empty() && spikes.count > 0 {
        limitations.push("no server events received: spikes cannot be tied to a cause".into());
    }
    verdict.confidence = (verdict.confidence * 100.0).round() / 100.0;

    let mut errors: BTreeMap<Failure, u64> = BTreeMap::new();
    for r in &rows {
        for (k, v) in &r.errors {
            *errors.entry(*k).or_insert(0) += v;
        }
    }
    let duration_s = s.ended_unix_ns.saturating_sub(s.started_unix_ns) as f64 / 1e9;
    Ok(Diagnosis {
        schema: SCHEMA.into(),
        run: RunInfo {
            scenario: input.manifest.as_ref().and_then(|m| m.scenario.clone()),
            mode: s.mode,
            load_axis: if open {
                LoadAxis::Rate
            } else {
                LoadAxis::Concurrency
            },
            connection: s.connection,
            method: s.method.clone(),
            url: s.url.clone(),
            plan: s.plan.clone(),
            requests,
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
        where_time_went,
        limitations,
    })
}
