//! Runs a plan: sets up the client, the recorder and the record files, drives the
//! closed- or open-loop executor, waits (bounded) for in-flight requests, and writes the
//! record — also when interrupted.

use crate::client::{Client, ClientConfig, RequestSpec};
use crate::closed;
use crate::error::LoadgenError;
use crate::exec::Ctx;
use crate::io_driver::IoDriver;
use crate::lag::LagMonitor;
use crate::limits;
use crate::open;
use crate::otel::config::OtelConfig;
use crate::otel::export::Exporter;
use crate::otel::spans::{SPAN_QUEUE, SpanSink};
use crate::plan::{Load, Plan};
use crate::progress::Progress;
use crate::record::recorder::Recorder;
use crate::record::tick::Ticker;
use crate::record::{log, summary, write};
use hdrhistogram::Histogram;
use satlab_common::capacity::own_cpus;
use satlab_record::distributed::DistributedPart;
use satlab_record::fsio::JsonlAppender;
use satlab_record::judge;
use satlab_record::layout::LoadgenFiles;
use satlab_record::series::SecondSample;
use satlab_record::summary::{ConnectionMode, LoadMode, LoadgenSummary};
use satlab_record::threshold::Threshold;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Everything but the plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to send.
    pub request: RequestSpec,
    /// How to connect.
    pub client: ClientConfig,
    /// The closed loop's I/O driver for HTTP/1.1 keep-alive.
    pub io: IoDriver,
    /// CPU time spent before each request, on the sending thread's CPU clock (simulates
    /// e.g. payload signing).
    pub client_work: Duration,
    /// Probability of the `traceparent` sampled flag (and of exporting the client span).
    pub trace_sample: f64,
    /// Write the run record here.
    pub out: Option<PathBuf>,
    /// Print the live progress line.
    pub progress: bool,
    /// Accumulator shards (0 = automatic: 4 per runtime thread).
    pub shards: usize,
    /// Longest wait for in-flight requests after the end or an interrupt.
    pub drain_timeout: Duration,
    /// OTLP export, when configured.
    pub otel: Option<OtelConfig>,
    /// Why an interrupt happened, for the record (e.g. "SIGINT").
    pub interrupt_reason: String,
    /// Judged at the end; the results go into the summary.
    pub thresholds: Vec<Threshold>,
    /// A distributed run's part: wait for its start instant, and tag the record with it.
    pub distributed: Option<DistributedPart>,
}

impl Options {
    /// Defaults for sending `request`: keep-alive HTTP/1.1, 10 s request and 3 s connect
    /// timeouts, every request sampled, no record, no progress.
    pub fn new(request: RequestSpec) -> Self {
        Options {
            request,
            client: ClientConfig {
                connect_timeout: Duration::from_secs(3),
                request_timeout: Duration::from_secs(10),
                new_connection: false,
                http2: false,
                h2_connections: 1,
            },
            io: IoDriver::Auto,
            client_work: Duration::ZERO,
            trace_sample: 1.0,
            out: None,
            progress: false,
            shards: 0,
            drain_timeout: Duration::from_secs(5),
            otel: None,
            interrupt_reason: "interrupted".into(),
            thresholds: Vec::new(),
            distributed: None,
        }
    }
}

/// What a run measured.
pub struct RunOutcome {
    /// The summary (also `summary.json`).
    pub summary: LoadgenSummary,
    /// Per-step latency histograms (measured windows), µs.
    pub step_histograms: Vec<Histogram<u64>>,
    /// All steps merged.
    pub overall_histogram: Histogram<u64>,
    /// The per-second series.
    pub seconds: Vec<SecondSample>,
    /// Where the record was written.
    pub files: Option<LoadgenFiles>,
}

/// Run `plan`. `cancel` stops it early: no new requests start, in-flight ones get up to
/// `opts.drain_timeout`, and the record is written with `interrupted: true`. The
/// thresholds are judged on the summary either way.
pub async fn run(
    plan: Plan,
    opts: Options,
    cancel: CancellationToken,
) -> Result<RunOutcome, LoadgenError> {
    let limit = limits::raise_nofile();
    let h2 = if opts.client.http2 {
        opts.client.h2_connections as u64
    } else {
        0
    };
    let needed = if opts.client.http2 {
        h2
    } else {
        plan.max_concurrency() as u64
    };
    limits::check_fits(needed, limit)?;
    let on_uring = opts
        .io
        .on_uring(matches!(plan.load, Load::Closed(_)), &opts.client)?;
    let client = Arc::new(Client::new(&opts.request, opts.client.clone()).await?);
    let schedule = plan.schedule();

    let files = opts.out.as_ref().map(LoadgenFiles::new);
    let (log_sink, log_thread, seconds_out) = match &files {
        Some(f) => {
            std::fs::create_dir_all(f.dir()).map_err(|source| {
                LoadgenError::Record(satlab_record::RecordError::Io {
                    path: f.dir().to_path_buf(),
                    source,
                })
            })?;
            let (sink, thread) = log::start(&f.requests())?;
            (
                Some(sink),
                Some(thread),
                Some(JsonlAppender::create(&f.seconds())?),
            )
        }
        None => (None, None, None),
    };
    let threads = tokio::runtime::Handle::current().metrics().num_workers();
    let shards = if opts.shards > 0 {
        opts.shards
    } else {
        (threads * 4).max(4)
    };
    let mut recorder = Recorder::new(schedule.clone(), shards, log_sink);
    if opts.otel.as_ref().is_some_and(|c| c.metrics.is_some()) {
        // Per-class latencies for the exported duration metric's attributes.
        recorder = recorder.with_classes();
    }
    let recorder = Arc::new(recorder);
    let cap = own_cpus();

    let (spans, exporter) = match &opts.otel {
        Some(cfg) => {
            let (sink, rx) = match cfg.traces {
                Some(_) => {
                    let (sink, rx) = SpanSink::channel(SPAN_QUEUE);
                    (Some(sink), Some(rx))
                }
                None => (None, None),
            };
            let exp = Exporter::start(
                cfg.clone(),
                rx,
                opts.request.method.as_str(),
                &opts.request.url,
            )?;
            (sink, Some(exp))
        }
        None => (None, None),
    };

    // Open loop: the first workers' connections are opened before the run's zero.
    let warm = match &plan.load {
        Load::Open { max_in_flight, .. } => {
            let peak = schedule
                .steps
                .iter()
                .filter_map(|s| s.rate)
                .fold(0.0, f64::max);
            let n = open::warm_count(peak, *max_in_flight as usize);
            tokio::select! {
                warm = open::warm(&client, n) => warm,
                _ = cancel.cancelled() => Vec::new(),
            }
        }
        Load::Closed(_) => Vec::new(),
    };
    if let Some(part) = &opts.distributed {
        let wait = part
            .start_unix_ns
            .saturating_sub(satlab_record::now_unix_ns());
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_nanos(wait)) => {}
            _ = cancel.cancelled() => {}
        }
    }
    let clock = satlab_record::WallClock::now();
    let (started_unix_ns, start) = (clock.unix_ns(), clock.instant());
    let stop = cancel.child_token();
    let aux_stop = CancellationToken::new();
    let ctx = Arc::new(Ctx {
        client,
        recorder: recorder.clone(),
        start,
        started_unix_ns,
        schedule: schedule.clone(),
        stop: stop.clone(),
        client_work: opts.client_work,
        trace_sample: opts.trace_sample,
        spans: spans.clone(),
    });
    let lag = LagMonitor::new(&schedule);
    let lag_task = tokio::spawn(lag.clone().run(schedule.clone(), start, aux_stop.clone()));
    let mut ticker = Ticker::new(
        recorder.clone(),
        lag.clone(),
        start,
        cap,
        seconds_out,
        Progress::new(opts.progress, schedule.steps.len()),
    );
    if let Some(hook) = exporter.as_ref().and_then(Exporter::metrics_hook) {
        ticker.on_second(hook);
    }
    let ticker_task = tokio::spawn(ticker.run(aux_stop.clone()));

    let mut set = JoinSet::new();
    match &plan.load {
        Load::Closed(_) => {
            spawn_closed(&ctx, &mut set, on_uring, threads, opts.drain_timeout);
            let end = start + Duration::from_micros(schedule.end_us());
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep_until(end.into()) => {}
            }
        }
        Load::Open { max_in_flight, .. } => {
            let dispatcher = open::dispatch(ctx.clone(), *max_in_flight as usize, warm);
            set = tokio::spawn(dispatcher)
                .await
                .map_err(|e| LoadgenError::Internal(format!("dispatcher failed: {e}")))?;
        }
    }
    let interrupted = cancel.is_cancelled();
    let stop_us = ctx.now_us();
    stop.cancel();
    let drained = tokio::time::timeout(opts.drain_timeout, async {
        while set.join_next().await.is_some() {}
    })
    .await;
    let abandoned = if drained.is_err() {
        let n = recorder.in_flight();
        set.abort_all();
        while set.join_next().await.is_some() {}
        n
    } else {
        0
    };
    drop(ctx);
    aux_stop.cancel();
    let _ = lag_task.await;
    let mut ticker = ticker_task
        .await
        .map_err(|e| LoadgenError::Internal(format!("tick task failed: {e}")))?;
    ticker.finish();
    recorder.close_log();
    let (logged, log_dropped) = match log_thread {
        Some(t) => t.finish()?,
        None => (0, 0),
    };
    let spans_dropped = spans.as_ref().map(|s| s.dropped()).unwrap_or(0);
    drop(spans);
    if let Some(exp) = exporter {
        exp.shutdown().await;
    }

    let steps: Vec<_> = schedule
        .steps
        .iter()
        .enumerate()
        .map(|(i, w)| {
            summary::step_summary(i as u32, w, &ticker.steps[i], &recorder, &ticker, stop_us)
        })
        .collect();
    let overall_histogram = summary::merge_all(&ticker.steps);
    let overall =
        summary::overall_summary(&steps, &overall_histogram, &ticker.steps, lag.overall());
    let mut summary = LoadgenSummary {
        schema: LoadgenSummary::SCHEMA.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        url: opts.request.url.clone(),
        method: opts.request.method.to_string(),
        mode: match plan.load {
            Load::Closed(_) => LoadMode::Closed,
            Load::Open { .. } => LoadMode::Open,
        },
        connection: if opts.client.new_connection {
            ConnectionMode::NewConnection
        } else {
            ConnectionMode::KeepAlive
        },
        http_version: if opts.client.http2 { "http2" } else { "http1" }.into(),
        io_driver: if on_uring { "io_uring" } else { "tokio" }.into(),
        plan: plan.spec.clone(),
        settle_ms: plan.settle.as_millis() as u64,
        started_unix_ns,
        ended_unix_ns: satlab_record::now_unix_ns(),
        interrupted,
        interrupt_reason: interrupted.then(|| opts.interrupt_reason.clone()),
        cpu_capacity: cap,
        trace_sample_ratio: opts.trace_sample,
        max_in_flight: match plan.load {
            Load::Open { max_in_flight, .. } => Some(max_in_flight),
            Load::Closed(_) => None,
        },
        late_threshold_us: open::LATE_US,
        client_work_us: opts.client_work.as_micros() as u64,
        request_log_records: logged,
        request_log_dropped: log_dropped,
        abandoned_in_flight: abandoned,
        spans_dropped,
        steps,
        overall,
        distributed: opts.distributed.clone(),
        thresholds: Vec::new(),
    };
    summary.thresholds = judge::evaluate(&summary, &opts.thresholds);
    if let Some(f) = &files {
        if let Some(e) = ticker.write_error.take() {
            return Err(e.into());
        }
        write::write_record(f, &summary, &ticker.steps, &overall_histogram)?;
    }
    Ok(RunOutcome {
        summary,
        step_histograms: ticker.steps.iter().map(|a| a.hist.clone()).collect(),
        overall_histogram,
        seconds: std::mem::take(&mut ticker.seconds),
        files,
    })
}

/// The closed loop's workers: on io_uring threads, one per runtime thread, or as tokio
/// tasks.
fn spawn_closed(
    ctx: &Arc<Ctx>,
    set: &mut JoinSet<()>,
    on_uring: bool,
    threads: usize,
    drain: Duration,
) {
    #[cfg(target_os = "linux")]
    if on_uring {
        return crate::uring::spawn(ctx, set, threads, drain);
    }
    let _ = (on_uring, threads, drain);
    closed::spawn(ctx, set);
}
