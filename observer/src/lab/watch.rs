//! The run loop: the run goes on until loadgen ends, a child dies, a signal arrives or
//! `--max-duration` passes, refreshing the progress line meanwhile.

use super::ending::Ending;
use super::signals::Signals;
use crate::children::describe;
use satlab_common::exit;
use satlab_record::RunDir;
use std::process::Child;
use std::time::{Duration, Instant};

/// Watch the running children until the run ends; `tick` runs every 100 ms meanwhile.
pub async fn watch(
    loadgen: &mut Child,
    target: &mut Child,
    dir: &RunDir,
    started: Instant,
    max_duration: Duration,
    signals: &mut Signals,
    mut tick: impl FnMut(),
) -> Ending {
    loop {
        if let Ok(Some(st)) = loadgen.try_wait() {
            return if st.success() {
                Ending::Complete
            } else if st.code() == Some(i32::from(exit::THRESHOLD)) {
                Ending::ThresholdsCrossed
            } else {
                Ending::ChildFailed(format!(
                    "loadgen ended with {}; see {}",
                    describe(st),
                    dir.logs().join("loadgen.log").display()
                ))
            };
        }
        if let Ok(Some(st)) = target.try_wait() {
            return Ending::ChildFailed(format!(
                "target-api died during the run ({}); see {}",
                describe(st),
                dir.logs().join("target-api.log").display()
            ));
        }
        if started.elapsed() >= max_duration {
            return Ending::Timeout;
        }
        tick();
        tokio::select! {
            e = signals.recv() => return e,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}
