//! `observer scenario NAME`: a scenario as a plan for a target that is already running
//! (the docker lab's loadgen container), as JSON for people and tools, or one piece at a
//! time in a form a shell script reads without parsing: the admin body as JSON to send as
//! is, and lists as NUL-terminated words (`mapfile -d ''`).

use crate::scenario::Scenario;
use crate::scenario_plan::Plan;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `observer scenario`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Print what running a scenario against a running target takes: admin API body, fixed target flags, load args",
    group(clap::ArgGroup::new("part").args(["list", "admin_body", "admin_reset", "load_args", "fixed_flags"]))
)]
pub struct ScenarioArgs {
    /// Scenario name or TOML file (not with --list or --admin-reset).
    #[arg(value_name = "NAME|FILE", required_unless_present_any = ["list", "admin_reset"], conflicts_with_all = ["list", "admin_reset"])]
    pub name: Option<String>,
    /// Look for NAME.toml in DIR before the built-in scenarios; --list lists DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// List the scenarios, one a line: name, summary, expected verdict.
    #[arg(long)]
    pub list: bool,
    /// Print only the PUT /admin/config body (JSON, every run-time setting).
    #[arg(long)]
    pub admin_body: bool,
    /// Print only the body that puts every run-time setting back to its default.
    #[arg(long)]
    pub admin_reset: bool,
    /// Print only the [load] args, each followed by a NUL byte.
    #[arg(long)]
    pub load_args: bool,
    /// Print only the [target] flags fixed at start, each followed by a NUL byte.
    #[arg(long)]
    pub fixed_flags: bool,
}

/// Words, each followed by a NUL byte (an argument cannot hold one, so any word survives).
pub fn nul_terminated(words: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in words {
        out.extend_from_slice(w.as_bytes());
        out.push(0);
    }
    out
}

/// The bytes `observer scenario` prints for `args`.
pub fn output(args: &ScenarioArgs) -> anyhow::Result<Vec<u8>> {
    if args.list {
        let scenarios = match &args.dir {
            Some(dir) => Scenario::all_in(dir)?,
            None => Scenario::builtins()
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?,
        };
        let lines: String = scenarios
            .iter()
            .map(|s| format!("{}\n", s.list_line()))
            .collect();
        return Ok(lines.into_bytes());
    }
    if args.admin_reset {
        return Ok(format!("{}\n", serde_json::to_string(&Plan::reset_body())?).into_bytes());
    }
    let name = args
        .name
        .as_deref()
        .context("give a scenario NAME (or --list)")?;
    let scenario = match &args.dir {
        Some(dir) => Scenario::find_in(dir, name)?,
        None => Scenario::find(name)?,
    };
    let plan = Plan::of(&scenario)?;
    Ok(if args.admin_body {
        format!("{}\n", serde_json::to_string(&plan.admin_body)?).into_bytes()
    } else if args.load_args {
        nul_terminated(&plan.load_args)
    } else if args.fixed_flags {
        nul_terminated(&plan.fixed_flags)
    } else {
        format!("{}\n", serde_json::to_string_pretty(&plan)?).into_bytes()
    })
}

/// Run `observer scenario`.
pub fn run(args: &ScenarioArgs) -> anyhow::Result<()> {
    let bytes = output(args)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(&bytes).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing stdout"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ScenarioArgs,
    }

    fn parse(argv: &[&str]) -> Result<ScenarioArgs, String> {
        Wrap::try_parse_from(std::iter::once("scenario").chain(argv.iter().copied()))
            .map(|w| w.args)
            .map_err(|e| e.to_string())
    }

    fn out(argv: &[&str]) -> anyhow::Result<Vec<u8>> {
        output(&parse(argv).unwrap())
    }

    fn split_nul(bytes: &[u8]) -> Vec<String> {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(words.pop().as_deref(), Some(""), "not NUL-terminated");
        words
    }

    #[test]
    fn load_args_round_trip_through_nul_bytes() {
        let words: Vec<String> = ["--body", "{\"a\":[1, 2]}", "", "two\nlines", "é 'q' \"dq\""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split_nul(&nul_terminated(&words)), words);
        assert!(nul_terminated(&[]).is_empty());
        let s = Scenario::find("gc-spikes").unwrap();
        assert_eq!(
            split_nul(&out(&["gc-spikes", "--load-args"]).unwrap()),
            s.load.args
        );
        assert_eq!(
            split_nul(&out(&["gc-spikes", "--fixed-flags"]).unwrap()),
            ["--workers"]
        );
    }

    #[test]
    fn the_admin_body_is_the_plan_s_settings() {
        let body = out(&["gc-spikes", "--admin-body"]).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let settings: target_api::Settings = serde_json::from_str(&text).unwrap();
        assert_eq!(settings.events.pause_every, 1000);
        let reset = out(&["--admin-reset"]).unwrap();
        let reset: target_api::Settings = serde_json::from_slice(&reset).unwrap();
        assert_eq!(reset, target_api::Settings::default());
        let plan: serde_json::Value =
            serde_json::from_slice(&out(&["gc-spikes"]).unwrap()).unwrap();
        assert_eq!(plan["admin_body"], serde_json::to_value(&settings).unwrap());
        assert_eq!(plan["fixed_flags"], serde_json::json!(["--workers"]));
    }

    #[test]
    fn list_names_every_builtin() {
        let text = String::from_utf8(out(&["--list"]).unwrap()).unwrap();
        assert_eq!(text.lines().count(), Scenario::builtins().len());
        assert!(text.lines().any(|l| l.starts_with("gc-spikes ")), "{text}");
    }

    #[test]
    fn bad_requests_are_refused_with_what_to_give() {
        let e = out(&["no-such-scenario", "--admin-body"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-scenario") && e.contains("gc-spikes"),
            "{e}"
        );
        let e = parse(&[]).unwrap_err();
        assert!(e.contains("NAME"), "{e}");
        let e = parse(&["gc-spikes", "--admin-body", "--load-args"]).unwrap_err();
        assert!(e.contains("--load-args"), "{e}");
        let e = parse(&["gc-spikes", "--list"]).unwrap_err();
        assert!(e.contains("--list"), "{e}");
    }
}
