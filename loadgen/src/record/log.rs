//! The per-request log (`requests.bin`): each shard buffers records in chunks, and a
//! dedicated thread, fed the chunks through a bounded channel, writes them. When the
//! writer falls behind, chunks are dropped and counted rather than blocking the workers
//! or growing memory.

use satlab_record::{RecordError, RequestLogWriter, RequestRecord};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Request-log records buffered per shard before they are handed to the writer.
pub const LOG_CHUNK: usize = 4096;
/// Chunks that may wait for the writer (each up to [`LOG_CHUNK`] records).
pub const QUEUE_CHUNKS: usize = 64;

/// One shard's records not yet handed to the writer.
#[derive(Debug, Default)]
pub struct LogBuffer {
    records: Vec<RequestRecord>,
}

impl LogBuffer {
    /// Buffer `rec`; a full chunk goes to `sink`.
    pub fn push(&mut self, rec: RequestRecord, sink: &LogSink) {
        if self.records.capacity() == 0 {
            self.records.reserve_exact(LOG_CHUNK);
        }
        self.records.push(rec);
        if self.records.len() >= LOG_CHUNK {
            sink.send(std::mem::take(&mut self.records));
        }
    }

    /// Hand whatever is buffered to `sink`.
    pub fn flush(&mut self, sink: &LogSink) {
        if !self.records.is_empty() {
            sink.send(std::mem::take(&mut self.records));
        }
    }
}

/// The sending side, held by the recorder.
pub struct LogSink {
    tx: std::sync::Mutex<Option<SyncSender<Vec<RequestRecord>>>>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// Hand a chunk to the writer without blocking; count it as dropped if the queue is full.
    pub fn send(&self, chunk: Vec<RequestRecord>) {
        let n = chunk.len() as u64;
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let sent = match tx.as_ref() {
            Some(tx) => match tx.try_send(chunk) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Close the channel: the writer finishes once it has written what is queued.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The writer thread.
pub struct LogThread {
    handle: std::thread::JoinHandle<Result<u64, RecordError>>,
    dropped: Arc<AtomicU64>,
    path: std::path::PathBuf,
}

/// Start writing `path`; returns the sink for the recorder and the thread to finish.
pub fn start(path: &Path) -> Result<(LogSink, LogThread), RecordError> {
    let writer = RequestLogWriter::create(path)?;
    let (tx, rx) = sync_channel(QUEUE_CHUNKS);
    let dropped = Arc::new(AtomicU64::new(0));
    let handle = std::thread::Builder::new()
        .name("loadgen-reqlog".into())
        .spawn(move || write_all(writer, rx))
        .map_err(|e| RecordError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    Ok((
        LogSink {
            tx: std::sync::Mutex::new(Some(tx)),
            dropped: dropped.clone(),
        },
        LogThread {
            handle,
            dropped,
            path: path.to_path_buf(),
        },
    ))
}

fn write_all(
    mut writer: RequestLogWriter,
    rx: Receiver<Vec<RequestRecord>>,
) -> Result<u64, RecordError> {
    while let Ok(chunk) = rx.recv() {
        for r in &chunk {
            writer.write(r)?;
        }
    }
    writer.finish()
}

impl LogThread {
    /// Wait for the writer (after [`LogSink::close`]); returns (written, dropped).
    pub fn finish(self) -> Result<(u64, u64), RecordError> {
        let written = self.handle.join().map_err(|_| RecordError::Format {
            path: self.path.clone(),
            message: "request log writer panicked".into(),
        })??;
        Ok((written, self.dropped.load(Ordering::Relaxed)))
    }
}
