//! The per-request log (`loadgen/requests.bin`): fixed 16-byte little-endian records,
//! streamed to disk so memory stays bounded however long the run.
//!
//! File layout: an 8-byte magic `SATREQ01`, then records in rough completion order (the
//! loadgen hands them over in per-shard chunks: sort by `start_us` when order matters):
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..8 | `start_us` u64 | send time, µs since the run start (`summary.started_unix_ns`): the intended send time in open loop, the actual one in closed loop |
//! | 8..12 | `latency_us` u32 | from `start_us` to the end of the response body, or to the failure (saturates) |
//! | 12..14 | `status` u16 | HTTP status, 0 when no response arrived |
//! | 14 | `error` u8 | [`ErrorKind`] code |
//! | 15 | `step` u8 | the load step's index (saturates at 255) |

use crate::error::RecordError;
use crate::error_kind::ErrorKind;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The file's magic header.
pub const MAGIC: &[u8; 8] = b"SATREQ01";
/// Size of one record in bytes.
pub const RECORD_SIZE: usize = 16;

/// One request's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// Intended send time, µs since the run start.
    pub start_us: u64,
    /// Latency in µs, measured from the intended send time.
    pub latency_us: u32,
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// Why no response arrived, or [`ErrorKind::None`].
    pub error: ErrorKind,
    /// The load step's index.
    pub step: u8,
}

impl RequestRecord {
    /// Encode as 16 little-endian bytes.
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        b[0..8].copy_from_slice(&self.start_us.to_le_bytes());
        b[8..12].copy_from_slice(&self.latency_us.to_le_bytes());
        b[12..14].copy_from_slice(&self.status.to_le_bytes());
        b[14] = self.error.code();
        b[15] = self.step;
        b
    }

    /// Decode 16 little-endian bytes.
    pub fn from_bytes(b: &[u8; RECORD_SIZE]) -> Self {
        RequestRecord {
            start_us: u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            latency_us: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            status: u16::from_le_bytes([b[12], b[13]]),
            error: ErrorKind::from_code(b[14]),
            step: b[15],
        }
    }

    /// True when a response arrived with a status below 400.
    pub fn is_ok(&self) -> bool {
        self.error == ErrorKind::None && self.status > 0 && self.status < 400
    }
}

/// Streams records to a file through a buffer.
pub struct RequestLogWriter {
    out: BufWriter<File>,
    path: PathBuf,
    count: u64,
}

impl RequestLogWriter {
    /// Create (truncate) the file and write the header.
    pub fn create(path: &Path) -> Result<Self, RecordError> {
        let file = File::create(path).map_err(|e| RecordError::io(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(MAGIC).map_err(|e| RecordError::io(path, e))?;
        Ok(RequestLogWriter {
            out,
            path: path.to_path_buf(),
            count: 0,
        })
    }

    /// Append one record.
    pub fn write(&mut self, r: &RequestRecord) -> Result<(), RecordError> {
        self.count += 1;
        self.out
            .write_all(&r.to_bytes())
            .map_err(|e| RecordError::io(&self.path, e))
    }

    /// Records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flush and sync to disk.
    pub fn finish(mut self) -> Result<u64, RecordError> {
        self.out
            .flush()
            .map_err(|e| RecordError::io(&self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| RecordError::io(&self.path, e))?;
        Ok(self.count)
    }
}

/// Reads records back; an iterator of `Result<RequestRecord, RecordError>`.
/// A truncated final record (a crash mid-write) ends the iteration without error.
pub struct RequestLogReader {
    input: BufReader<File>,
    path: PathBuf,
    /// Bytes of [`RequestLogReader::read_chunk`].
    bytes: Vec<u8>,
}

impl RequestLogReader {
    /// Open the file and check its header.
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let file = File::open(path).map_err(|e| RecordError::io(path, e))?;
        let mut input = BufReader::with_capacity(1 << 16, file);
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| RecordError::format(path, "too short for a request log header"))?;
        if &magic != MAGIC {
            return Err(RecordError::format(
                path,
                "not a satlab request log (bad magic; expected SATREQ01)",
            ));
        }
        Ok(RequestLogReader {
            input,
            path: path.to_path_buf(),
            bytes: Vec::new(),
        })
    }

    /// Replace `out`'s contents with the next (up to) `max` records: a bulk read for long
    /// logs. `out` is left empty at the end; a truncated final record is dropped.
    pub fn read_chunk(
        &mut self,
        out: &mut Vec<RequestRecord>,
        max: usize,
    ) -> Result<(), RecordError> {
        out.clear();
        self.bytes.resize(max * RECORD_SIZE, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match self.input.read(&mut self.bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecordError::io(&self.path, e)),
            }
        }
        out.extend(
            self.bytes[..filled]
                .chunks_exact(RECORD_SIZE)
                .map(|b| RequestRecord::from_bytes(b.try_into().expect("16 bytes"))),
        );
        Ok(())
    }

    /// Number of whole records in a file of `len` bytes.
    pub fn records_in(len: u64) -> u64 {
        len.saturating_sub(MAGIC.len() as u64) / RECORD_SIZE as u64
    }
}

impl Iterator for RequestLogReader {
    type Item = Result<RequestRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut b = [0u8; RECORD_SIZE];
        let mut filled = 0;
        while filled < RECORD_SIZE {
            match self.input.read(&mut b[filled..]) {
                Ok(0) => return None,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(RecordError::io(&self.path, e))),
            }
        }
        Some(Ok(RequestRecord::from_bytes(&b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.bin");
        let records: Vec<RequestRecord> = (0..1000u64)
            .map(|i| RequestRecord {
                start_us: i * 1_000_003,
                latency_us: (i * 7919 % 100_000) as u32,
                status: if i % 10 == 0 {
                    0
                } else {
                    200 + (i % 4) as u16 * 100
                },
                error: if i % 10 == 0 {
                    ErrorKind::AddrNotAvailable
                } else {
                    ErrorKind::None
                },
                step: (i / 100) as u8,
            })
            .collect();
        let mut w = RequestLogWriter::create(&path).unwrap();
        for r in &records {
            w.write(r).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 1000);
        let back: Vec<_> = RequestLogReader::open(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, records);
        // In chunks of 7 (1000 is not a multiple): the same records.
        let (mut reader, mut chunk, mut chunked) = (
            RequestLogReader::open(&path).unwrap(),
            Vec::new(),
            Vec::new(),
        );
        loop {
            reader.read_chunk(&mut chunk, 7).unwrap();
            if chunk.is_empty() {
                break;
            }
            chunked.extend_from_slice(&chunk);
        }
        assert_eq!(chunked, records);
    }

    #[test]
    fn truncated_tail_is_ignored_and_bad_magic_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.bin");
        let mut bytes = MAGIC.to_vec();
        let r = RequestRecord {
            start_us: 5,
            latency_us: 6,
            status: 200,
            error: ErrorKind::None,
            step: 1,
        };
        bytes.extend_from_slice(&r.to_bytes());
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&path, &bytes).unwrap();
        let back: Vec<_> = RequestLogReader::open(&path).unwrap().collect();
        let mut reader = RequestLogReader::open(&path).unwrap();
        let mut chunk = Vec::new();
        reader.read_chunk(&mut chunk, 7).unwrap();
        assert_eq!(chunk, [r]);
        reader.read_chunk(&mut chunk, 7).unwrap();
        assert!(chunk.is_empty());
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].as_ref().unwrap(), &r);
        std::fs::write(&path, b"NOTMAGIC").unwrap();
        assert!(RequestLogReader::open(&path).is_err());
    }
}
