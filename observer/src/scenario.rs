//! Workshop scenarios: one TOML file each under `scenarios/`, also compiled into the binary.
//!
//! A scenario gives the target's flags, the load plan, optional CPU pinning of client and
//! server, an optional private network namespace with its own sysctls, and the verdict the
//! diagnosis is expected to reach. Unknown keys are errors that name the key.

use satlab_diagnosis::{ServerBound, VerdictKind};
use satlab_record::EventKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// Errors finding or parsing a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No file and no built-in scenario by that name.
    #[error(
        "no scenario {name:?}: give a file path or one of: {known} (see `observer lab --list`)"
    )]
    NotFound {
        /// What was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TOML was invalid or had unknown keys.
    #[error("{origin}: {message}")]
    Parse {
        /// The file or built-in name.
        origin: String,
        /// The parser's message (it names the key and line).
        message: String,
    },
    /// The content is well-formed but unusable.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file or built-in name.
        origin: String,
        /// What to fix.
        message: String,
    },
}

/// `[target]`: arguments for target-api (the lab adds `--listen`), or another service:
/// a command the lab starts and the URL to load. In `cmd`, `url` and `ready`, `{port}`
/// stands for a free port the lab picks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Extra command-line arguments for target-api.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Another service: a shell command line, run with `sh -c` in the scenario file's
    /// directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// The URL loadgen loads (`http://…`); required with `cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The URL that answers once the service is ready (default: `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// The service's `OTEL_SERVICE_NAME` (default: the scenario's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// `[load]`: arguments for loadgen (the lab adds the URL and `--out`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// Extra command-line arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

/// `[pin]`: CPU lists for the client and the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinSpec {
    /// CPUs for loadgen.
    pub client: Option<Vec<usize>>,
    /// CPUs for target-api.
    pub server: Option<Vec<usize>>,
}

/// `[netns]`: run both children in a private network namespace with these sysctls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetnsSpec {
    /// `net.*` sysctls to set inside the namespace, e.g. `net.ipv4.ip_local_port_range`.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
}

/// `[expect]`: what the diagnosis must say, in the diagnosis's own types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The verdict.
    pub verdict: VerdictKind,
    /// For server verdicts: what bounds the server.
    pub server_bound: Option<ServerBound>,
    /// The server event that explains latency spikes.
    pub spike_cause: Option<EventKind>,
    /// Spike period in requests (count-driven causes).
    pub spike_period_requests: Option<u64>,
    /// Spike period in seconds (timer-driven causes).
    pub spike_period_seconds: Option<f64>,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (`gc-spikes`).
    pub name: String,
    /// One line for `--list`.
    pub summary: String,
    /// The workshop question it answers.
    #[serde(default)]
    pub question: String,
    /// Target settings.
    #[serde(default)]
    pub target: TargetSpec,
    /// Load plan.
    #[serde(default)]
    pub load: LoadSpec,
    /// Optional CPU pinning.
    pub pin: Option<PinSpec>,
    /// Optional private network namespace.
    pub netns: Option<NetnsSpec>,
    /// Expected diagnosis.
    pub expect: Option<ExpectSpec>,
    /// The directory of the scenario's file (where `[target] cmd` runs); `None` for a
    /// built-in.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

impl Scenario {
    /// Parse scenario TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        s.validate(origin)?;
        Ok(s)
    }

    fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        let invalid = |m: String| ScenarioError::Invalid {
            origin: origin.to_string(),
            message: m,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "name {:?} must be non-empty letters, digits, '-' or '_'",
                self.name
            )));
        }
        let t = &self.target;
        if let Some(svc) = &t.service
            && (svc.is_empty()
                || !svc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(format!(
                "[target] service {svc:?} must be non-empty letters, digits, '-', '_' or '.'"
            )));
        }
        if t.cmd.is_some() && t.url.is_none() {
            return Err(invalid(
                "[target] cmd needs url: the URL to load, e.g. url = \"http://127.0.0.1:{port}/\""
                    .into(),
            ));
        }
        if (t.cmd.is_some() || t.url.is_some()) && !t.args.is_empty() {
            return Err(invalid(
                "[target] args are target-api's flags: give either args, or cmd and url for another service"
                    .into(),
            ));
        }
        if t.url.is_none() && (t.ready.is_some() || t.service.is_some()) {
            return Err(invalid(
                "[target] ready and service go with cmd and url (another service)".into(),
            ));
        }
        for u in [&t.url, &t.ready].into_iter().flatten() {
            if !u.starts_with("http://") {
                return Err(invalid(format!(
                    "[target] URL {u:?} must start with http:// (the lab loads HTTP/1.1 or h2c)"
                )));
            }
        }
        for (flag, owner) in [("--listen", "target"), ("--out", "load")] {
            let args = if owner == "target" {
                &self.target.args
            } else {
                &self.load.args
            };
            if args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
            {
                return Err(invalid(format!(
                    "[{owner}] args must not set {flag}: the lab sets it"
                )));
            }
        }
        if let Some(ns) = &self.netns {
            for key in ns.sysctls.keys() {
                let ok = key.starts_with("net.")
                    && key.split('.').all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                if !ok {
                    return Err(invalid(format!(
                        "[netns] sysctl {key:?}: only net.* sysctls can be set inside the namespace"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The built-in scenarios, parsed (a broken built-in is reported, not hidden).
    pub fn builtins() -> Vec<Result<Scenario, ScenarioError>> {
        BUILTIN
            .iter()
            .map(|(name, text)| Scenario::parse(text, &format!("built-in scenario {name}")))
            .collect()
    }

    /// Find a scenario: an existing file path, else `scenarios/NAME.toml` under the current
    /// directory, else the built-in of that name.
    pub fn find(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let as_path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
        if looks_like_path || as_path.is_file() {
            return Self::from_file(as_path);
        }
        let local = Path::new("scenarios").join(format!("{name_or_path}.toml"));
        if local.is_file() {
            return Self::from_file(&local);
        }
        match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            Some((n, text)) => Scenario::parse(text, &format!("built-in scenario {n}")),
            None => Err(ScenarioError::NotFound {
                name: name_or_path.to_string(),
                known: BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Find a scenario by name in `dir` (`dir/NAME.toml`), else as [`Scenario::find`] does.
    pub fn find_in(dir: &Path, name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let in_dir = dir.join(format!("{name_or_path}.toml"));
        if !name_or_path.contains('/') && in_dir.is_file() {
            return Self::from_file(&in_dir);
        }
        Self::find(name_or_path)
    }

    /// Every scenario file (`*.toml`) in `dir`, sorted by name; a broken file is an error.
    pub fn all_in(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
        let read = |source| ScenarioError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read)? {
            let path = entry.map_err(read)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        paths.iter().map(|p| Self::from_file(p)).collect()
    }

    /// Read and parse a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut s = Scenario::parse(&text, &path.display().to_string())?;
        s.dir = Some(
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        );
        Ok(s)
    }

    /// True when the scenario loads another service (`[target] url`), not target-api.
    pub fn is_other_service(&self) -> bool {
        self.target.url.is_some()
    }

    /// The plan used when the lab is pointed at a service without a scenario: doubling
    /// concurrency from 1 to 64, 3 s a step, GET; no expected verdict.
    pub fn any_service() -> Scenario {
        Scenario {
            name: "service".into(),
            summary: "a service given on the command line".into(),
            question: "Where does this service's RPS stop growing, and why?".into(),
            target: TargetSpec::default(),
            load: LoadSpec {
                args: [
                    "--stages",
                    "1:3s,2:3s,4:3s,8:3s,16:3s,32:3s,64:3s",
                    "-m",
                    "GET",
                ]
                .map(String::from)
                .to_vec(),
            },
            pin: None,
            netns: None,
            expect: None,
            dir: None,
        }
    }

    /// One line for `observer lab --list`.
    pub fn list_line(&self) -> String {
        let expect = self
            .expect
            .as_ref()
            .map(|e| format!(" [expect {}]", e.verdict.name()))
            .unwrap_or_default();
        format!("{:<16} {}{expect}", self.name, self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_gc_spikes_is_there() {
        assert!(!BUILTIN.is_empty());
        for s in Scenario::builtins() {
            s.unwrap();
        }
        let s = Scenario::find("gc-spikes").unwrap();
        assert_eq!(s.name, "gc-spikes");
        let e = s.expect.unwrap();
        assert_eq!(e.verdict, VerdictKind::Server);
        assert_eq!(e.spike_cause, Some(EventKind::GcPause));
        assert!(s.target.args.contains(&"--pause-every".to_string()));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Scenario::parse("name='x'\nsummary='y'\nbogus=1\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err =
            Scenario::parse("name='x'\nsummary='y'\n[pin]\nclinet=[0]\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("clinet"), "{err}");
        let err = Scenario::parse(
            "name='x'\nsummary='y'\n[expect]\nverdict='maybe'\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("maybe"), "{err}");
    }

    #[test]
    fn lab_owned_flags_and_bad_sysctls_are_refused() {
        let err = Scenario::parse(
            "name='x'\nsummary='y'\n[target]\nargs=['--listen','0.0.0.0:1']\n",
            "t",
        )
        .unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
        let err = Scenario::parse(
            "name='x'\nsummary='y'\n[netns]\nsysctls={'kernel.pid_max'='5'}\n",
            "t",
        )
        .unwrap_err();
        assert!(err.to_string().contains("net."), "{err}");
        let err = Scenario::parse(
            "name='x'\nsummary='y'\n[netns]\nsysctls={'net.ipv4/../../x'='5'}\n",
            "t",
        )
        .unwrap_err();
        assert!(err.to_string().contains("only net"), "{err}");
        let ok = Scenario::parse(
            "name='x'\nsummary='y'\n[netns]\nsysctls={'net.ipv4.ip_local_port_range'='40000 40099'}\n[pin]\nclient=[0]\nserver=[1]\n",
            "t",
        )
        .unwrap();
        assert_eq!(ok.pin.unwrap().client, Some(vec![0]));
    }

    #[test]
    fn a_directory_is_searched_first_and_listed_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("gc-spikes.toml"),
            "name='gc-spikes'\nsummary='local copy'\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("a.toml"), "name='a'\nsummary='first'\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a scenario").unwrap();
        let local = Scenario::find_in(dir.path(), "gc-spikes").unwrap();
        assert_eq!(local.summary, "local copy");
        // Not in the directory: the built-in one.
        let builtin = Scenario::find_in(dir.path(), "cpu-bound").unwrap();
        assert_eq!(builtin.name, "cpu-bound");
        let names: Vec<String> = Scenario::all_in(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["a", "gc-spikes"]);
        std::fs::write(dir.path().join("b.toml"), "name='b'\n").unwrap();
        let err = Scenario::all_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("b.toml") && err.contains("summary"), "{err}");
        assert!(Scenario::all_in(&dir.path().join("none")).is_err());
    }

    #[test]
    fn another_service_s_target_is_checked() {
        let parse = |target: &str| {
            Scenario::parse(
                &format!("name = \"x\"\nsummary = \"s\"\n[target]\n{target}"),
                "t",
            )
            .map_err(|e| e.to_string())
        };
        let s = parse("cmd = \"./run.sh {port}\"\nurl = \"http://127.0.0.1:{port}/\"").unwrap();
        assert!(s.is_other_service());
        for (target, says) in [
            ("cmd = \"./run.sh\"", "cmd needs url"),
            ("url = \"https://x/\"", "http://"),
            (
                "args = [\"--workers\", \"1\"]\nurl = \"http://x/\"",
                "either args",
            ),
            ("ready = \"http://x/\"", "go with cmd and url"),
            (
                "cmd = \"c\"\nurl = \"http://x/\"\nservice = \"../log\"",
                "service",
            ),
        ] {
            let e = parse(target).unwrap_err();
            assert!(e.contains(says), "{target}: {e}");
        }
        let e = crate::scenario_plan::Plan::of(&s).unwrap_err().to_string();
        assert!(e.contains("another service"), "{e}");
    }

    #[test]
    fn missing_scenario_lists_known_names() {
        let err = Scenario::find("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("gc-spikes"), "{err}");
        assert!(Scenario::find("/nonexistent/x.toml").is_err());
    }
}
