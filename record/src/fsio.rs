//! Atomic file writes and JSON / JSON-lines helpers.

use crate::error::RecordError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Write `bytes` to `path` atomically: a temporary file beside it, fsync, rename.
/// A crash leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| RecordError::io(parent, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(|e| RecordError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| RecordError::io(&tmp, e))?;
        f.sync_all().map_err(|e| RecordError::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| RecordError::io(path, e))
}

/// Serialise `value` as pretty JSON and write it atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), RecordError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| RecordError::format(path, format!("cannot serialise: {e}")))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Read and parse a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, RecordError> {
    let bytes = std::fs::read(path).map_err(|e| RecordError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| RecordError::format(path, e.to_string()))
}

/// Write items as JSON lines, atomically.
pub fn write_jsonl<'a, T: Serialize + 'a>(
    path: &Path,
    items: impl IntoIterator<Item = &'a T>,
) -> Result<(), RecordError> {
    let mut buf = Vec::new();
    for item in items {
        serde_json::to_writer(&mut buf, item)
            .map_err(|e| RecordError::format(path, format!("cannot serialise: {e}")))?;
        buf.push(b'\n');
    }
    write_atomic(path, &buf)
}

/// Read a JSON-lines file; blank lines are skipped, a bad line is an error naming it.
/// A missing file reads as empty.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, RecordError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RecordError::io(path, e)),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| RecordError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line)
            .map_err(|e| RecordError::format(path, format!("line {}: {e}", i + 1)))?;
        out.push(item);
    }
    Ok(out)
}

/// An append-only JSON-lines stream for samples taken while a run goes on. Each line is
/// flushed whole; a reader ignores nothing but a torn last line.
pub struct JsonlAppender {
    out: BufWriter<File>,
    path: std::path::PathBuf,
}

impl JsonlAppender {
    /// Create (truncate) the file.
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RecordError::io(parent, e))?;
        }
        let f = File::create(path).map_err(|e| RecordError::io(path, e))?;
        Ok(JsonlAppender {
            out: BufWriter::new(f),
            path: path.to_path_buf(),
        })
    }

    /// Append one item as a line.
    pub fn append<T: Serialize>(&mut self, item: &T) -> Result<(), RecordError> {
        serde_json::to_writer(&mut self.out, item)
            .map_err(|e| RecordError::format(&self.path, format!("cannot serialise: {e}")))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| RecordError::io(&self.path, e))
    }

    /// Flush buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.out.flush().map_err(|e| RecordError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_json_round_trip_and_bad_line_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        write_json(&p, &vec![1, 2, 3]).unwrap();
        let v: Vec<i32> = read_json(&p).unwrap();
        assert_eq!(v, vec![1, 2, 3]);
        let l = dir.path().join("x.jsonl");
        write_jsonl(&l, &[1, 2]).unwrap();
        assert_eq!(read_jsonl::<i32>(&l).unwrap(), vec![1, 2]);
        std::fs::write(&l, "1\nnope\n").unwrap();
        let err = read_jsonl::<i32>(&l).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            read_jsonl::<i32>(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
