//! Holding a distributed run open until its loadgens have joined: ids handed out at join,
//! one start instant announced to all, and the plan split among those that came.

use crate::distributed::merge;
use crate::rundir::RunWriter;
use loadgen::plan::{self, Load, Plan};
use loadgen::share::{self, Share};
use satlab_common::duration::{format_duration, parse_duration};
use satlab_record::distributed::{DistributedRecord, JoinReply};
use satlab_record::summary::LoadgenSummary;
use satlab_record::{RunDir, fsio};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most loadgens in one run.
pub const MAX_LOADGENS: u32 = 1024;
/// Default wait for every loadgen to join.
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time from the announcement to the start: long enough for every loadgen to
/// hear it and get ready.
pub const DEFAULT_START_DELAY: Duration = Duration::from_millis(1000);
/// Longest join timeout or start delay accepted.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// What to do when fewer loadgens than planned have joined at the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnMissing {
    /// Split the whole plan among those present.
    #[default]
    Resplit,
    /// Refuse the run: every waiting loadgen gets an error.
    Refuse,
}

/// `POST /api/runs/{id}/distributed`: the run's plan, in loadgen's own grammar, and how
/// many loadgens share it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Loadgens that will join.
    pub loadgens: u32,
    /// Closed loop: `CONCURRENCY:DURATION` steps, the whole run's workers.
    #[serde(default)]
    pub stages: Option<String>,
    /// Open loop: `RATE:DURATION` steps, the whole run's rate.
    #[serde(default)]
    pub rate_stages: Option<String>,
    /// Settle time per step (default: 1s, or half of the shortest step).
    #[serde(default)]
    pub settle: Option<String>,
    /// Open loop: the whole run's in-flight cap (default 5000).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// How long to wait for every loadgen, from the first join (default 60s).
    #[serde(default)]
    pub join_timeout: Option<String>,
    /// From the announcement to the start (default 1s).
    #[serde(default)]
    pub start_delay: Option<String>,
    /// Fewer loadgens than planned at the timeout: `resplit` (default) or `refuse`.
    #[serde(default)]
    pub on_missing: OnMissing,
}

/// Why a distributed-run call was refused.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// No such distributed run.
    #[error("{0}")]
    NotFound(String),
    /// The call does not fit the run's state.
    #[error("{0}")]
    Conflict(String),
    /// The definition is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The run directory could not be written.
    #[error("{0}")]
    Io(String),
}

fn wait_of(s: &Option<String>, default: Duration, name: &str) -> Result<Duration, CoordError> {
    let Some(s) = s else { return Ok(default) };
    let d = parse_duration(s).map_err(|e| CoordError::Invalid(format!("{name}: {e}")))?;
    if d > MAX_WAIT {
        return Err(CoordError::Invalid(format!(
            "{name} {s:?} is over the cap of {}",
            format_duration(MAX_WAIT)
        )));
    }
    Ok(d)
}

impl Definition {
    /// The whole run's plan.
    pub fn plan(&self) -> Result<Plan, CoordError> {
        let bad = |e: plan::PlanError| CoordError::Invalid(e.to_string());
        if self.loadgens == 0 || self.loadgens > MAX_LOADGENS {
            return Err(CoordError::Invalid(format!(
                "loadgens {} is out of range: use 1..={MAX_LOADGENS}",
                self.loadgens
            )));
        }
        let (load, spec) = match (&self.stages, &self.rate_stages) {
            (Some(s), None) => (Load::Closed(plan::parse_stages(s).map_err(bad)?), s.clone()),
            (None, Some(s)) => (
                Load::Open {
                    stages: plan::parse_rate_stages(s).map_err(bad)?,
                    max_in_flight: self.max_in_flight.unwrap_or(5000),
                },
                s.clone(),
            ),
            _ => {
                return Err(CoordError::Invalid(
                    "give exactly one of \"stages\" (closed loop, e.g. \"30:10s,60:10s\") or \
                     \"rate_stages\" (open loop, e.g. \"3000:10s\")"
                        .into(),
                ));
            }
        };
        let shortest = match &load {
            Load::Closed(s) => s.iter().map(|s| s.duration).min(),
            Load::Open { stages, .. } => stages.iter().map(|s| s.duration).min(),
        }
        .unwrap_or(Duration::ZERO);
        let settle = match &self.settle {
            Some(s) => {
                parse_duration(s).map_err(|e| CoordError::Invalid(format!("settle: {e}")))?
            }
            None => Duration::from_secs(1).min(shortest / 2),
        };
        let plan = Plan::new(load, settle, spec).map_err(bad)?;
        share::split(&plan, self.loadgens).map_err(bad)?;
        Ok(plan)
    }
}

/// The announcement every joined loadgen waits for.
#[derive(Debug, Clone)]
struct Announce {
    /// The joined loadgens' ids, ascending: the `i`-th runs `shares[i]`.
    ids: Vec<u32>,
    shares: Vec<Share>,
    start_unix_ns: u64,
}

type Outcome = Option<Result<Announce, String>>;

#[derive(Debug)]
struct RunState {
    plan: Plan,
    planned: u32,
    on_missing: OnMissing,
    join_timeout: Duration,
    /// The first join plus the join timeout.
    deadline: std::sync::OnceLock<Instant>,
    start_delay: Duration,
    /// Ids taken so far.
    joined: Mutex<Vec<u32>>,
    tx: watch::Sender<Outcome>,
}

/// The distributed runs of one `observer serve`.
#[derive(Debug)]
pub struct Coordinator {
    runs_dir: PathBuf,
    runs: Mutex<HashMap<String, Arc<RunState>>>,
}

impl Coordinator {
    /// Runs live under `runs_dir/<id>`.
    pub fn new(runs_dir: impl Into<PathBuf>) -> Self {
        Coordinator {
            runs_dir: runs_dir.into(),
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Open run `id` for `def.loadgens` loadgens to join.
    pub fn create(&self, id: &str, def: &Definition) -> Result<(), CoordError> {
        let plan = def.plan()?;
        let join_timeout = wait_of(&def.join_timeout, DEFAULT_JOIN_TIMEOUT, "join_timeout")?;
        let start_delay = wait_of(&def.start_delay, DEFAULT_START_DELAY, "start_delay")?;
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if runs.contains_key(id) || self.runs_dir.join(id).join("manifest.json").exists() {
            return Err(CoordError::Conflict(format!(
                "run {id:?} exists already: pick another id"
            )));
        }
        let (tx, _) = watch::channel(None);
        runs.insert(
            id.to_string(),
            Arc::new(RunState {
                plan,
                planned: def.loadgens,
                on_missing: def.on_missing,
                join_timeout,
                deadline: std::sync::OnceLock::new(),
                start_delay,
                joined: Mutex::new(Vec::new()),
                tx,
            }),
        );
        Ok(())
    }

    /// Join run `id`, as loadgen `want` when given (a Kubernetes Job's completion index),
    /// else as the lowest id free: waits until every loadgen has joined or the join
    /// timeout, then returns this loadgen's id, share and the start instant.
    pub async fn join(&self, id: &str, want: Option<u32>) -> Result<JoinReply, CoordError> {
        let run = self
            .runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| {
                CoordError::NotFound(format!(
                    "no distributed run {id:?}: create it with POST /api/runs/{id}/distributed"
                ))
            })?;
        let mut rx = run.tx.subscribe();
        let me = {
            let mut joined = run.joined.lock().unwrap_or_else(|e| e.into_inner());
            if run.tx.borrow().is_some() {
                return Err(CoordError::Conflict(format!(
                    "run {id:?} has started already: a loadgen cannot join it now"
                )));
            }
            if joined.len() as u32 == run.planned {
                return Err(CoordError::Conflict(format!(
                    "run {id:?} has all its {} loadgens already",
                    run.planned
                )));
            }
            let me = match want {
                Some(k) if k >= run.planned => {
                    return Err(CoordError::Invalid(format!(
                        "loadgen id {k} is out of range: run {id:?} has ids 0 to {}",
                        run.planned - 1
                    )));
                }
                Some(k) if joined.contains(&k) => {
                    return Err(CoordError::Conflict(format!(
                        "loadgen {k} has joined run {id:?} already: two loadgens with one id"
                    )));
                }
                Some(k) => k,
                None => (0..).find(|k| !joined.contains(k)).expect("a free id"),
            };
            joined.push(me);
            run.deadline
                .get_or_init(|| Instant::now() + run.join_timeout);
            if joined.len() as u32 == run.planned {
                self.announce(id, &run, &joined);
            }
            me
        };
        // A loadgen that goes away before the start (its request dropped) gives its id back.
        let mut leave = Leave {
            run: &run,
            me,
            armed: true,
        };
        let outcome = loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                break o;
            }
            let deadline = *run.deadline.get().expect("set at the first join");
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, rx.changed()).await.is_err() {
                let joined = run.joined.lock().unwrap_or_else(|e| e.into_inner());
                if run.tx.borrow().is_none() {
                    self.announce(id, &run, &joined);
                }
            }
        };
        leave.armed = false;
        let a = outcome.map_err(CoordError::Conflict)?;
        let share = a
            .ids
            .iter()
            .position(|k| *k == me)
            .and_then(|i| a.shares.get(i))
            .ok_or_else(|| {
                CoordError::Conflict(format!("run {id:?} was split before loadgen {me} joined"))
            })?;
        Ok(JoinReply {
            run: id.to_string(),
            loadgen: me,
            of: a.shares.len() as u32,
            args: share.args.clone(),
            spec: share.spec.clone(),
            start_unix_ns: a.start_unix_ns,
        })
    }

    /// Split the plan among the `joined` loadgens (or refuse the run), record it in the run
    /// directory, and tell every waiting loadgen. Called with `joined` locked.
    fn announce(&self, id: &str, run: &RunState, joined: &[u32]) {
        let mut ids = joined.to_vec();
        ids.sort_unstable();
        let joined = ids.len() as u32;
        let outcome = if joined < run.planned && run.on_missing == OnMissing::Refuse {
            Err(format!(
                "run {id:?} refused: {joined} of {} loadgens joined before the join timeout",
                run.planned
            ))
        } else {
            share::split(&run.plan, joined)
                .map_err(|e| {
                    format!(
                        "run {id:?}: {joined} of {} loadgens joined and the plan does not split \
                         among them: {e}",
                        run.planned
                    )
                })
                .and_then(|shares| {
                    let start_unix_ns =
                        satlab_record::now_unix_ns() + run.start_delay.as_nanos() as u64;
                    self.record(id, run, &ids, &shares, start_unix_ns)
                        .map_err(|e| format!("run {id:?}: {e}"))?;
                    Ok(Announce {
                        ids: ids.clone(),
                        shares,
                        start_unix_ns,
                    })
                })
        };
        run.tx.send_replace(Some(outcome));
    }

    fn record(
        &self,
        id: &str,
        run: &RunState,
        ids: &[u32],
        shares: &[Share],
        start_unix_ns: u64,
    ) -> Result<(), String> {
        let root = self.runs_dir.join(id);
        RunWriter::create(&root, "observer serve (distributed)", None)
            .map_err(|e| e.to_string())?;
        let parts: Vec<(u32, String)> = ids
            .iter()
            .zip(shares)
            .map(|(k, s)| (*k, s.spec.clone()))
            .collect();
        let record = merge::new_record(id, &run.plan.spec, run.planned, start_unix_ns, &parts);
        write_record(&RunDir::new(&root), &record)
    }
}

/// Takes a joined loadgen's id back when its join is dropped before the announcement.
struct Leave<'a> {
    run: &'a RunState,
    me: u32,
    armed: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut joined = self.run.joined.lock().unwrap_or_else(|e| e.into_inner());
        if self.run.tx.borrow().is_none() {
            joined.retain(|k| *k != self.me);
        }
    }
}

/// Where a distributed run's record lives.
pub fn record_path(dir: &RunDir) -> PathBuf {
    dir.loadgen().dir().join("distributed.json")
}

/// Where loadgen `k`'s uploaded record lives.
pub fn parts_dir(dir: &RunDir) -> PathBuf {
    dir.loadgen().dir().join("parts")
}

/// Read a distributed run's record (`None` for a run of one loadgen).
pub fn read_record(dir: &RunDir) -> Result<Option<DistributedRecord>, String> {
    let p = record_path(dir);
    if !p.is_file() {
        return Ok(None);
    }
    fsio::read_json(&p).map(Some).map_err(|e| e.to_string())
}

/// Write a distributed run's record.
pub fn write_record(dir: &RunDir, record: &DistributedRecord) -> Result<(), String> {
    let p = record_path(dir);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    fsio::write_json(&p, record).map_err(|e| e.to_string())
}

/// Check an uploaded part's summary against the run: its tag names this run and this
/// loadgen, and its plan is the share it was assigned.
pub fn check_part(
    summary: &LoadgenSummary,
    record: &DistributedRecord,
    k: u32,
) -> Result<(), String> {
    let Some(tag) = &summary.distributed else {
        return Err(
            "this record is not a distributed run's part: run the loadgen with --join".into(),
        );
    };
    if tag.run != record.run {
        return Err(format!(
            "this record is from run {:?}, not {:?}",
            tag.run, record.run
        ));
    }
    if tag.loadgen != k {
        return Err(format!(
            "this record is loadgen {}'s, uploaded as loadgen {k}",
            tag.loadgen
        ));
    }
    let Some(share) = record
        .parts
        .iter()
        .find(|p| p.loadgen == k)
        .map(|p| &p.spec)
    else {
        return Err(format!("run {:?} has no loadgen {k}", record.run));
    };
    if &summary.plan != share {
        return Err(format!(
            "this record ran the plan {:?}, but loadgen {k} was assigned {share:?}",
            summary.plan
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(loadgens: u32, stages: &str) -> Definition {
        serde_json::from_value(serde_json::json!({"loadgens": loadgens, "stages": stages})).unwrap()
    }

    #[tokio::test]
    async fn a_join_dropped_before_the_start_gives_its_id_back() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Arc::new(Coordinator::new(tmp.path()));
        c.create("r", &def(2, "4:1s")).unwrap();
        let c1 = c.clone();
        let gone = tokio::spawn(async move { c1.join("r", Some(1)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        gone.abort();
        let _ = gone.await;
        // Id 1 is free again: asking for it waits (no "two loadgens with one id").
        let c2 = c.clone();
        let again = tokio::spawn(async move { c2.join("r", Some(1)).await });
        let first = c.join("r", None).await.unwrap();
        let again = again.await.unwrap().unwrap();
        assert_eq!((first.loadgen, again.loadgen), (0, 1));
        assert_eq!((first.spec.as_str(), again.spec.as_str()), ("2:1s", "2:1s"));
        assert_eq!(first.start_unix_ns, again.start_unix_ns);
    }
}
