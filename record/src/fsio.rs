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

/// A JSON-lines file as read: its items and the torn last line skipped, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonLines<T> {
    /// The items, in file order.
    pub items: Vec<T>,
    /// The 1-based number of a torn last line that was skipped, if any.
    pub torn_line: Option<usize>,
}

/// Read a JSON-lines file, dropping the report of a torn last line (see [`read_jsonl_lines`]
/// for the rule). For readers with nowhere to say that a line was skipped.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, RecordError> {
    read_jsonl_lines(path).map(|l| l.items)
}

/// Read a JSON-lines file: the one reader of the run directory's `.jsonl` files. A missing
/// file reads as empty and blank lines are skipped. The torn-line rule: a bad *last* line
/// without a trailing newline (the writer was killed mid-line) is skipped and reported in
/// [`JsonLines::torn_line`]; any other bad line is an error naming the file and line
/// ([`RecordError::Line`]).
pub fn read_jsonl_lines<T: DeserializeOwned>(path: &Path) -> Result<JsonLines<T>, RecordError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(JsonLines {
                items: Vec::new(),
                torn_line: None,
            });
        }
        Err(e) => return Err(RecordError::io(path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut items = Vec::new();
    let mut line = String::new();
    let mut no = 0usize;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .map_err(|e| RecordError::io(path, e))?
            == 0
        {
            return Ok(JsonLines {
                items,
                torn_line: None,
            });
        }
        no += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str(text) {
            Ok(v) => items.push(v),
            // Only the last line can lack its newline.
            Err(_) if !line.ends_with('\n') => {
                return Ok(JsonLines {
                    items,
                    torn_line: Some(no),
                });
            }
            Err(e) => {
                return Err(RecordError::Line {
                    path: path.to_path_buf(),
                    line: no,
                    message: e.to_string(),
                });
            }
        }
    }
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

    #[test]
    fn only_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let l = dir.path().join("x.jsonl");
        std::fs::write(&l, "1\n\n2\n{\"a\": 1").unwrap();
        let r = read_jsonl_lines::<i32>(&l).unwrap();
        assert_eq!((r.items, r.torn_line), (vec![1, 2], Some(4)));
        assert_eq!(read_jsonl::<i32>(&l).unwrap(), vec![1, 2]);
        // The same bad line with its newline was written whole: an error naming it.
        std::fs::write(&l, "1\n2\n{\"a\": 1\n").unwrap();
        let e = read_jsonl::<i32>(&l).unwrap_err();
        assert!(matches!(e, RecordError::Line { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("x.jsonl: line 3"), "{e}");
        // A bad line in the middle is an error even when the last line is torn.
        std::fs::write(&l, "1\nnope\n2").unwrap();
        assert!(read_jsonl::<i32>(&l).is_err());
    }
}
