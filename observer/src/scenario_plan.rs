//! What running a scenario against a target that is already up takes (the docker lab's
//! loadgen container): the admin API body, the target flags that only apply at start, and
//! the loadgen arguments. Computed by the scenario parser and target-api's own types, so
//! the container's script parses neither TOML nor JSON.

use crate::scenario::{Scenario, ScenarioError};
use serde::Serialize;
use target_api::Settings;

/// A scenario as a plan for a running target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// Its one-line summary.
    pub summary: String,
    /// The `PUT /admin/config` body: every run-time setting, the defaults with the
    /// scenario's `[target]` flags applied, so it also undoes an earlier scenario.
    pub admin_body: Settings,
    /// `[target]` flags that only apply at start (`--workers`): set them in the target's
    /// own command line.
    pub fixed_flags: Vec<String>,
    /// The `[load]` args (the caller adds the target URL and `--out`).
    pub load_args: Vec<String>,
}

impl Plan {
    /// The plan for `scenario`; its target flags must parse with target-api's command line.
    pub fn of(scenario: &Scenario) -> Result<Plan, ScenarioError> {
        if scenario.is_other_service() {
            return Err(ScenarioError::Invalid {
                origin: format!("scenario {}", scenario.name),
                message: "it loads another service ([target] url), not target-api: run it with `observer lab --scenario FILE`".into(),
            });
        }
        let split = target_api::runtime_flags::split(&scenario.target.args).map_err(|e| {
            ScenarioError::Invalid {
                origin: format!("scenario {}", scenario.name),
                message: format!("[target] args: {e}"),
            }
        })?;
        Ok(Plan {
            name: scenario.name.clone(),
            summary: scenario.summary.clone(),
            admin_body: split.settings,
            fixed_flags: split.fixed,
            load_args: scenario.load.args.clone(),
        })
    }

    /// The body that puts every run-time setting back to its default.
    pub fn reset_body() -> Settings {
        Settings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn gc_spikes_sets_its_pause_and_names_its_fixed_flag() {
        let plan = Plan::of(&Scenario::find("gc-spikes").unwrap()).unwrap();
        assert_eq!(plan.admin_body.events.pause_every, 1000);
        assert_eq!(
            plan.admin_body.events.pause_duration,
            Duration::from_millis(100)
        );
        assert_eq!(plan.fixed_flags, ["--workers"]);
        assert_eq!(plan.load_args[..2], ["--stages", "32:12s"]);
    }

    #[test]
    fn every_builtin_has_a_plan() {
        for s in Scenario::builtins() {
            let s = s.unwrap();
            Plan::of(&s).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }

    #[test]
    fn target_flags_target_api_refuses_are_reported() {
        let s = Scenario::parse(
            "name='x'\nsummary='y'\n[target]\nargs=['--pause-evry','3']\n",
            "t",
        )
        .unwrap();
        let e = Plan::of(&s).unwrap_err().to_string();
        assert!(
            e.contains("scenario x") && e.contains("--pause-evry"),
            "{e}"
        );
    }
}
