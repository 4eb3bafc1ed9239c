//! The span queue: each finished server span is encoded on its request's thread, at once,
//! into that thread's buffer ([`Shard`]; a lock no other request thread takes), so the
//! request path hands nothing to another thread per span and allocates nothing per span.
//! A buffer that holds a full batch (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`) goes to the export
//! task through a bounded channel; the task also sends whatever the buffers hold every
//! `OTEL_BSP_SCHEDULE_DELAY`. Spans beyond the bound (`OTEL_BSP_MAX_QUEUE_SIZE`, in whole
//! batches) are dropped, never waited for: [`Flow`] counts them as not exported.

use super::counting::Flow;
use super::span_export::OtlpSpanExporter;
use satlab_common::otel_env::SpanBatching;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Encoded spans waiting for export: `ScopeSpans.spans` fields, back to back.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) bytes: Vec<u8>,
    pub(super) spans: u64,
}

/// One thread's buffer.
#[derive(Debug, Default)]
struct Shard {
    batch: Batch,
}

impl Shard {
    /// The spans held, leaving an empty buffer of the same capacity.
    fn take(&mut self) -> Batch {
        let capacity = self.batch.bytes.capacity();
        std::mem::replace(
            &mut self.batch,
            Batch {
                bytes: Vec::with_capacity(capacity),
                spans: 0,
            },
        )
    }
}

type Shards = Arc<[Mutex<Shard>]>;

/// Threads get buffers in turn, the first time they record a span.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
}

/// The queue the request path pushes finished spans into (a clone is a handle on the
/// same queue).
#[derive(Debug, Clone)]
pub(super) struct SpanQueue {
    shards: Shards,
    full: mpsc::Sender<Batch>,
    /// Asks the export task to send everything and stop; it answers on the given channel.
    stop: mpsc::UnboundedSender<std::sync::mpsc::SyncSender<()>>,
    max_batch: u64,
    flow: Arc<Flow>,
}

impl SpanQueue {
    /// Start the export task on `runtime`, sending through `exporter`, which counts what
    /// it exported into `flow`.
    pub(super) fn start(
        exporter: OtlpSpanExporter,
        batching: SpanBatching,
        flow: Arc<Flow>,
        runtime: &Handle,
    ) -> SpanQueue {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let shards: Shards = (0..(2 * threads).clamp(4, 64))
            .map(|_| Mutex::default())
            .collect();
        let max_batch = batching.max_export_batch_size.max(1);
        let queued_batches = (batching.max_queue_size / max_batch).max(1);
        let (full, full_rx) = mpsc::channel(queued_batches);
        let (stop, stop_rx) = mpsc::unbounded_channel();
        runtime.spawn(export_loop(
            shards.clone(),
            full_rx,
            stop_rx,
            exporter,
            batching.schedule_delay,
        ));
        SpanQueue {
            shards,
            full,
            stop,
            max_batch: max_batch as u64,
            flow,
        }
    }

    /// Record one finished span: `encode` appends it to this thread's buffer.
    pub(super) fn push(&self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.flow.ended.fetch_add(1, Ordering::Relaxed);
        let slot = SLOT.with(|s| *s) % self.shards.len();
        let full = {
            let mut shard = self.shards[slot]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            encode(&mut shard.batch.bytes);
            shard.batch.spans += 1;
            (shard.batch.spans >= self.max_batch).then(|| shard.take())
        };
        if let Some(batch) = full {
            // A full queue (or a stopped task) drops the batch.
            if let Err(e) = self.full.try_send(batch) {
                let spans = match e {
                    mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => {
                        b.spans
                    }
                };
                self.flow.lost.fetch_add(spans, Ordering::Relaxed);
            }
        }
    }

    /// Send every span held and stop the export task, waiting at most `limit`. Blocks:
    /// call it from a blocking thread. Returns whether the task finished in time.
    pub(super) fn shutdown(&self, limit: Duration) -> bool {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if self.stop.send(done).is_err() {
            return true; // already stopped
        }
        wait.recv_timeout(limit).is_ok()
    }
}

/// Every buffer's spans, leaving them empty.
fn take_all(shards: &Shards) -> Vec<Batch> {
    shards
        .iter()
        .filter_map(|s| {
            let mut shard = s.lock().unwrap_or_else(PoisonError::into_inner);
            (shard.batch.spans > 0).then(|| shard.take())
        })
        .collect()
}

/// The export task: full batches as they come, the buffers' partial batches every
/// `delay`, everything at a stop. One export at a time.
async fn export_loop(
    shards: Shards,
    mut full: mpsc::Receiver<Batch>,
    mut stop: mpsc::UnboundedReceiver<std::sync::mpsc::SyncSender<()>>,
    exporter: OtlpSpanExporter,
    delay: Duration,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + delay, delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Sender {
        exporter,
        failing: false,
    };
    loop {
        tokio::select! {
            batch = full.recv() => match batch {
                Some(batch) => out.send(batch).await,
                None => break,
            },
            _ = tick.tick() => {
                for batch in take_all(&shards) {
                    out.send(batch).await;
                }
            }
            done = stop.recv() => {
                while let Ok(batch) = full.try_recv() {
                    out.send(batch).await;
                }
                for batch in take_all(&shards) {
                    out.send(batch).await;
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
                break;
            }
        }
    }
}

/// The exporter, and whether its last export failed (a failure is warned of once, until
/// an export works again).
struct Sender {
    exporter: OtlpSpanExporter,
    failing: bool,
}

impl Sender {
    async fn send(&mut self, batch: Batch) {
        match self.exporter.export(&batch.bytes, batch.spans).await {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("span export works again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(spans = batch.spans, error = %e, "span export failed");
            }
            Err(e) => tracing::debug!(spans = batch.spans, error = %e, "span export failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::span_proto::SpanEncoder;
    use satlab_common::otel_env::ExportSettings;

    /// Spans the queue holds: whole batches in the channel, and the buffers' spans.
    fn held(q: &SpanQueue) -> u64 {
        let queued = (q.full.max_capacity() - q.full.capacity()) as u64 * q.max_batch;
        let buffered: u64 = q.shards.iter().map(|s| s.lock().unwrap().batch.spans).sum();
        queued + buffered
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_its_bound_the_queue_drops_whole_batches_and_a_stop_is_bounded() {
        // A collector that accepts connections and never answers: the first export hangs.
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = hung.local_addr().unwrap();
        tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((s, _)) = hung.accept().await {
                conns.push(s);
            }
        });
        let flow = Arc::new(Flow::default());
        let settings = ExportSettings {
            timeout: Duration::from_secs(60),
            ..ExportSettings::default()
        };
        let endpoint = format!("http://{addr}");
        let exporter =
            OtlpSpanExporter::grpc(&endpoint, SpanEncoder::default(), &settings, flow.clone())
                .unwrap();
        let batching = SpanBatching {
            schedule_delay: Duration::from_secs(60), // full batches only
            max_queue_size: 8,
            max_export_batch_size: 2,
        };
        let q = SpanQueue::start(exporter, batching, flow.clone(), &Handle::current());
        for i in 0..1000u32 {
            q.push(|out| out.extend_from_slice(&i.to_le_bytes()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(flow.ended.load(Ordering::Relaxed), 1000);
        assert_eq!(flow.exported.load(Ordering::Relaxed), 0);
        // Four batches of two wait in the channel, less the one the hung export took if
        // the task has run yet (however slow the machine); the rest were dropped as they
        // filled, and counted, and the pushes never waited.
        let (held, lost) = (held(&q), flow.lost.load(Ordering::Relaxed));
        assert!((6..=8).contains(&held), "the queue holds {held} spans");
        assert!(
            (998..=1000).contains(&(held + lost)),
            "{held} held and {lost} counted as dropped: spans unaccounted for"
        );
        let stopped = tokio::task::spawn_blocking(move || q.shutdown(Duration::from_millis(200)))
            .await
            .unwrap();
        assert!(!stopped, "a hung collector cannot be flushed to");
    }
}
