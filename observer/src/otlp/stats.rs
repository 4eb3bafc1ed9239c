//! The receiver's counters for `/metrics`: what was accepted and refused, by signal and
//! reason, and the server events seen.

use std::collections::BTreeMap;

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Items accepted, by signal.
    pub received: BTreeMap<&'static str, u64>,
    /// Items or requests rejected, by (signal, reason).
    pub rejected: BTreeMap<(&'static str, String), u64>,
    /// Server events, by short name.
    pub events: BTreeMap<&'static str, u64>,
    /// Duration of the last event of each kind, s.
    pub last_event_duration_s: BTreeMap<&'static str, f64>,
}
