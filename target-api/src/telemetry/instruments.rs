//! The metric instruments: request and pool-wait durations, active requests (atomics read
//! at export time), event durations, shed requests, the process's CPU utilisation and the
//! telemetry drop counter.

use super::counting::Flow;
use super::durations::RequestDurations;
use super::process_cpu::CpuUtilization;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    Counter, Histogram, Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
};
use satlab_record::telemetry as names;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Histogram boundaries (s) for request and wait durations: the semantic-convention advice
/// (5 ms … 10 s) with finer buckets below 5 ms, since this service answers in microseconds.
pub const DURATION_BUCKETS: [f64; 22] = [
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1,
    0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0,
];

/// Methods `http.server.active_requests` is split by (`_OTHER` for the rest).
const ACTIVE_METHODS: [&str; 5] = ["GET", "POST", "PUT", "HEAD", "_OTHER"];

/// The log batch queue's default size: records beyond it in flight are lost, not queued.
const QUEUE_SIZE: u64 = 2048;

/// The slot of `m` in [`ACTIVE_METHODS`].
pub(super) fn method_slot(m: &http::Method) -> usize {
    use http::Method;
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::HEAD => 3,
        _ => 4,
    }
}

/// Every instrument the service records into.
pub(super) struct Instruments {
    pub(super) request_duration: RequestDurations,
    /// Active requests per method slot ([`ACTIVE_METHODS`]): plain atomics on the request
    /// path, read by an observable up-down counter at export time.
    pub(super) active: Arc<[AtomicI64; ACTIVE_METHODS.len()]>,
    _active_requests: ObservableUpDownCounter<i64>,
    pub(super) pool_wait: Histogram<f64>,
    pub(super) event_duration: Histogram<f64>,
    pub(super) shed: Counter<u64>,
    _cpu: ObservableGauge<f64>,
    _dropped: ObservableCounter<u64>,
}

impl Instruments {
    /// Create the instruments on `meter`; `spans` and `logs` feed the drop counter.
    pub(super) fn new(meter: &Meter, spans: Arc<Flow>, logs: Arc<Flow>) -> Instruments {
        let active: Arc<[AtomicI64; ACTIVE_METHODS.len()]> = Arc::new(Default::default());
        let active_cb = active.clone();
        let utilization = CpuUtilization::start();
        let cpu = meter
            .f64_observable_gauge(names::PROCESS_CPU_UTILIZATION)
            .with_unit("1")
            .with_description(
                "CPU used by the process, 0-1 of the CPUs it may use (affinity, cgroup quota)",
            )
            .with_callback(move |obs| {
                if let Some(share) = utilization.sample() {
                    obs.observe(share, &[]);
                }
            })
            .build();
        let dropped = meter
            .u64_observable_counter(names::TELEMETRY_DROPPED)
            .with_unit("{item}")
            .with_description("Spans and log records not exported (queue full or export failed), lower bound while running")
            .with_callback(move |obs| {
                // Spans are counted as they are lost. Log records still queued are not
                // lost yet: count only what cannot be in the queue.
                let spans_lost = spans.lost.load(std::sync::atomic::Ordering::Relaxed);
                let logs_lost = logs.unexported().saturating_sub(QUEUE_SIZE);
                for (signal, lost) in [("spans", spans_lost), ("logs", logs_lost)] {
                    obs.observe(lost, &[KeyValue::new("signal", signal)]);
                }
            })
            .build();
        Instruments {
            request_duration: RequestDurations::new(
                meter
                    .f64_histogram(names::HTTP_SERVER_REQUEST_DURATION)
                    .with_unit("s")
                    .with_description("Duration of HTTP server requests")
                    .with_boundaries(DURATION_BUCKETS.to_vec())
                    .build(),
            ),
            _active_requests: meter
                .i64_observable_up_down_counter(names::HTTP_SERVER_ACTIVE_REQUESTS)
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests")
                .with_callback(move |obs| {
                    for (m, n) in ACTIVE_METHODS.iter().zip(active_cb.iter()) {
                        obs.observe(
                            n.load(Ordering::Relaxed),
                            &[
                                KeyValue::new("http.request.method", *m),
                                KeyValue::new("url.scheme", "http"),
                            ],
                        );
                    }
                })
                .build(),
            active,
            pool_wait: meter
                .f64_histogram(names::POOL_WAIT_DURATION)
                .with_unit("s")
                .with_description("Time spent waiting for a downstream-pool permit")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            event_duration: meter
                .f64_histogram(names::EVENT_DURATION)
                .with_unit("s")
                .with_description("Duration of server events (gc_pause, pool_recycle, cpu_burst)")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            shed: meter
                .u64_counter(names::SHED_REQUESTS)
                .with_unit("{request}")
                .with_description("Requests refused by load shedding")
                .build(),
            _cpu: cpu,
            _dropped: dropped,
        }
    }
}
