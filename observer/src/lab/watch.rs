//! The run loop: the run goes on until loadgen ends, a child dies, a signal arrives or
//! `--max-duration` passes, refreshing the progress line meanwhile.

use super::ending::Ending;
use super::server::Server;
use super::signals::Signals;
use crate::children::describe;
use satlab_common::exit;
use satlab_record::RunDir;
use std::process::Child;
use std::time::{Duration, Instant};

/// Watch the running children until the run ends; `tick` runs every 100 ms meanwhile.
pub async fn watch(
    loadgen: &mut Child,
    server: &mut Server,
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
        if let Some(how) = server.ended() {
            let see = server
                .log()
                .map(|l| format!("; see {}", dir.logs().join(l).display()))
                .unwrap_or_default();
            return Ending::ChildFailed(format!(
                "{} died during the run ({how}){see}",
                server.name()
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
