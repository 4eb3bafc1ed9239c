//! Target flags split by when they take effect: the run-time ones become the settings the
//! admin API applies (`PUT /admin/config`), the others are fixed at start. A flag is a
//! run-time one exactly when its name is a field of [`Settings`] (`--cpu-cost` is
//! `profile.cpu_cost`), so the split follows the types rather than a list.

use crate::cli::Args;
use crate::config::Settings;
use crate::error::FlagsError;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use std::collections::{BTreeMap, BTreeSet};

/// Target flags, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSplit {
    /// Every run-time setting: the defaults with the given run-time flags applied. As a
    /// `PUT /admin/config` body it replaces whatever an earlier run set.
    pub settings: Settings,
    /// The given flags that only apply at start, as spelled on the command line
    /// (`--workers`), in the command line's order.
    pub fixed: Vec<String>,
}

/// The names of the run-time settings: the fields of [`Settings`]'s `profile` and
/// `events`, as the admin API spells them.
pub fn runtime_fields() -> BTreeSet<String> {
    let value = serde_json::to_value(Settings::default()).unwrap_or_default();
    ["profile", "events"]
        .iter()
        .filter_map(|part| value.get(part).and_then(|v| v.as_object()))
        .flat_map(|fields| fields.keys().cloned())
        .collect()
}

/// Parse target-api flags (without the program name) with target-api's own command line,
/// ignoring `SATLAB_TARGET_*` in this process's environment, and split them.
pub fn split(flags: &[String]) -> Result<FlagSplit, FlagsError> {
    let command = Args::command().mut_args(|a| a.env(None::<&str>));
    let longs: BTreeMap<String, String> = command
        .get_arguments()
        .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_string())))
        .collect();
    let argv = std::iter::once("target-api").chain(flags.iter().map(String::as_str));
    let matches = command
        .try_get_matches_from(argv)
        .map_err(|e| FlagsError::Parse(e.render().to_string().trim().to_string()))?;
    let args = Args::from_arg_matches(&matches)
        .map_err(|e| FlagsError::Parse(e.render().to_string().trim().to_string()))?;
    let config = args.config();
    config.settings.validate(config.pool_size)?;
    let runtime = runtime_fields();
    let mut fixed: Vec<(usize, String)> = matches
        .ids()
        .map(|id| id.as_str())
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .filter(|id| !runtime.contains(*id))
        .filter_map(|id| {
            let at = matches.index_of(id).unwrap_or(usize::MAX);
            Some((at, format!("--{}", longs.get(id)?)))
        })
        .collect();
    fixed.sort();
    Ok(FlagSplit {
        settings: config.settings,
        fixed: fixed.into_iter().map(|(_, flag)| flag).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingsPatch;
    use std::time::Duration;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_time_flags_become_settings_and_the_rest_are_named() {
        let split = split(&strings(&[
            "--workers",
            "2",
            "--pause-every",
            "1000",
            "--pool-size=8",
            "--pause-duration",
            "40ms",
        ]))
        .unwrap();
        assert_eq!(split.fixed, ["--workers", "--pool-size"]);
        let mut want = Settings::default();
        want.events.pause_every = 1000;
        want.events.pause_duration = Duration::from_millis(40);
        assert_eq!(split.settings, want);
    }

    #[test]
    fn every_run_time_field_is_a_flag_that_sets_it() {
        let fields = runtime_fields();
        assert!(fields.contains("cpu_cost") && fields.contains("accept_delay"));
        assert_eq!(fields.len(), 13, "{fields:?}");
        let flags: BTreeSet<String> = Args::command()
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        for f in &fields {
            assert!(flags.contains(f), "no target-api flag for the setting {f}");
        }
    }

    #[test]
    fn the_settings_serialise_to_a_body_the_admin_api_reads_back() {
        let split = split(&strings(&["--cpu-cost", "2ms", "--shed-status", "503"])).unwrap();
        let body = serde_json::to_string(&split.settings).unwrap();
        let patch: SettingsPatch = serde_json::from_str(&body).unwrap();
        let mut earlier = Settings::default();
        earlier.events.pause_every = 7;
        earlier.events.pause_duration = Duration::from_millis(5);
        assert_eq!(earlier.merged(&patch), split.settings);
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let e = split(&strings(&["--pause-evry", "3"])).unwrap_err();
        assert!(e.to_string().contains("--pause-evry"), "{e}");
        let e = split(&strings(&["--pause-every", "3"])).unwrap_err();
        assert!(e.to_string().contains("--pause-duration"), "{e}");
        let e = split(&strings(&["--cpu-cost", "2s"])).unwrap_err();
        assert!(e.to_string().contains("--cpu-cost"), "{e}");
    }

    #[test]
    fn the_environment_of_this_process_is_not_read() {
        // Env-provided values are not "given" flags and never reach the settings.
        let split = split(&[]).unwrap();
        assert_eq!(split.settings, Settings::default());
        assert!(split.fixed.is_empty());
    }
}
