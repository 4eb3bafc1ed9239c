//! Which network a run uses: a private namespace (the scenario's `[netns]`, `--network
//! private`, or `auto` as root), entered while the process is still single-threaded, or
//! the host's.

use super::options::NetworkChoice;
use crate::error::LabError;
use crate::netns;
use crate::scenario::Scenario;

/// Enter a private network namespace when the scenario or the choice asks for one; `true`
/// when the run is private. A run attached to a running process (`attach`) uses the host's
/// network, where that process listens. Call before any thread starts.
pub fn enter(scenario: &Scenario, choice: NetworkChoice, attach: bool) -> Result<bool, LabError> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if attach {
        return match (&scenario.netns, choice) {
            (Some(_), _) | (_, NetworkChoice::Private) => Err(LabError::Target(
                "--target-pid attaches to a process on the host's network: drop --network private and any [netns] section".into(),
            )),
            _ => Ok(false),
        };
    }
    match (&scenario.netns, choice) {
        (Some(_), NetworkChoice::Host) => Err(LabError::Env(format!(
            "scenario {:?} needs its own network namespace ([netns]); drop --network host",
            scenario.name
        ))),
        (Some(ns), _) => {
            netns::enter_private(&ns.sysctls)?;
            Ok(true)
        }
        (None, NetworkChoice::Private) => {
            netns::enter_private(&Default::default())?;
            Ok(true)
        }
        (None, NetworkChoice::Auto) if root => {
            netns::enter_private(&Default::default())?;
            Ok(true)
        }
        (None, _) => Ok(false),
    }
}
