//! The outcome of one export request, and how it is counted: items taken, items refused
//! (a partial success for the sender) and why, in `received.json` and the `/metrics`
//! counters.

use super::signal::Signal;
use super::store::{Contents, Store};

/// The outcome of ingesting one export request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingest {
    /// Items (spans, data points, log records) taken.
    pub accepted: u64,
    /// Items refused; non-zero makes the response a partial success.
    pub rejected: u64,
    /// Why items were refused (empty when none were).
    pub message: String,
}

impl Ingest {
    /// Refuse one item, noting why (each distinct reason once, the message bounded).
    pub(super) fn reject(&mut self, why: &str) {
        self.rejected += 1;
        if self.message.is_empty() {
            self.message = why.to_string();
        } else if !self.message.contains(why) && self.message.len() < 512 {
            self.message.push_str("; ");
            self.message.push_str(why);
        }
    }
}

/// Count one ingested request of `signal`: its accepted items, and its refused ones under
/// `reason`.
pub(super) fn count(g: &mut Contents, signal: Signal, out: &Ingest, reason: &str) {
    *g.received
        .requests
        .entry(signal.name().to_string())
        .or_default() += 1;
    *g.stats.received.entry(signal.name()).or_default() += out.accepted;
    if out.rejected > 0 {
        *g.received
            .dropped
            .entry(signal.name().to_string())
            .or_default() += out.rejected;
        *g.stats
            .rejected
            .entry((signal.name(), reason.to_string()))
            .or_default() += out.rejected;
    }
}

impl Store {
    /// Count a request refused before it reached the store (malformed, too large, ...).
    pub fn count_rejected_request(&self, signal: Signal, reason: &str) {
        let mut g = self.lock();
        *g.stats
            .rejected
            .entry((signal.name(), reason.to_string()))
            .or_default() += 1;
    }
}
