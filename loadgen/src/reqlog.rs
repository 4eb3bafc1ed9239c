//! The per-request log writer: a dedicated thread fed chunks of records through a bounded
//! channel. When the writer falls behind, chunks are dropped and counted rather than
//! blocking the workers or growing memory.

use satlab_record::{RecordError, RequestLogWriter, RequestRecord};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Chunks that may wait for the writer (each up to [`crate::stats::LOG_CHUNK`] records).
pub const QUEUE_CHUNKS: usize = 64;

/// The sending side, held by the stats.
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

/// Start writing `path`; returns the sink for the stats and the thread to finish.
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
