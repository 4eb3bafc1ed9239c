//! After the children stopped: wait for their last OTLP exports to arrive, until nothing
//! new comes for a moment, bounded by a grace period.

use crate::otlp::Store;
use std::time::{Duration, Instant};

/// How long without a new item counts as the exports being over.
const QUIET: Duration = Duration::from_millis(400);

/// OTLP items (spans, points, log records) the store accepted so far.
pub fn otlp_items(store: &Store) -> u64 {
    store.stats().received.values().sum()
}

/// Wait until no new OTLP item arrived for [`QUIET`], at most `grace`.
pub async fn await_last_exports(store: &Store, grace: Duration) {
    let grace_end = Instant::now() + grace;
    let mut last = otlp_items(store);
    let mut quiet_since = Instant::now();
    while Instant::now() < grace_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = otlp_items(store);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            break;
        }
    }
}
