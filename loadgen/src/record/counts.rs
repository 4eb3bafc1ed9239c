//! Outcome counts of a window: completed requests, responses below 400, failures by
//! [`ErrorKind`] and responses by status code, in fixed tables (no allocation per request).

use satlab_record::{ErrorKind, Failure};
use std::collections::BTreeMap;

/// Status codes are counted in a fixed table of this size (larger codes go to the last slot).
pub const STATUS_SLOTS: usize = 600;

/// Outcome counts of a window.
#[derive(Debug, Clone)]
pub struct Counts {
    /// Completed requests (any outcome).
    pub requests: u64,
    /// Responses with status < 400.
    pub ok: u64,
    /// Failures by [`ErrorKind`] code.
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Responses by status code.
    pub status: Box<[u64; STATUS_SLOTS]>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            requests: 0,
            ok: 0,
            errors: [0; ErrorKind::ALL.len()],
            status: Box::new([0; STATUS_SLOTS]),
        }
    }
}

impl Counts {
    /// Count one outcome.
    pub fn add(&mut self, status: u16, error: ErrorKind) {
        self.requests += 1;
        if error == ErrorKind::None {
            self.status[(status as usize).min(STATUS_SLOTS - 1)] += 1;
            if status > 0 && status < 400 {
                self.ok += 1;
            }
        } else {
            self.errors[error.code() as usize] += 1;
        }
    }

    /// Add another window's counts.
    pub fn merge(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.ok += o.ok;
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        for (a, b) in self.status.iter_mut().zip(o.status.iter()) {
            *a += b;
        }
    }

    /// Zero all counts.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.ok = 0;
        self.errors = [0; ErrorKind::ALL.len()];
        self.status.fill(0);
    }

    /// Failures without a response by kind (no [`ErrorKind::None`] entry).
    pub fn error_map(&self) -> BTreeMap<ErrorKind, u64> {
        ErrorKind::ALL
            .iter()
            .filter(|k| **k != ErrorKind::None)
            .filter_map(|k| {
                let n = self.errors[k.code() as usize];
                (n > 0).then_some((*k, n))
            })
            .collect()
    }

    /// Responses by status code.
    pub fn status_map(&self) -> BTreeMap<u16, u64> {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c as u16, *n))
            .collect()
    }

    /// Failures by kind plus HTTP statuses ≥ 400.
    pub fn failure_map(&self) -> BTreeMap<Failure, u64> {
        let mut m: BTreeMap<Failure, u64> = self
            .error_map()
            .into_iter()
            .map(|(k, n)| (Failure::Error(k), n))
            .collect();
        let from = usize::from(Failure::MIN_STATUS);
        for (c, n) in self.status.iter().enumerate().skip(from) {
            if *n > 0 {
                m.insert(Failure::Status(c as u16), *n);
            }
        }
        m
    }

    /// Failed requests: errors plus statuses ≥ 400.
    pub fn failures(&self) -> u64 {
        self.requests - self.ok
    }
}
