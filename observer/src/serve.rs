//! `observer serve`: the long-running OTLP consumer of the docker lab, with an HTTP API to
//! submit loadgen records, list runs, diagnose them, and `/metrics` for Grafana.
//!
//! API (on `--listen`): `GET /healthz`, `GET /metrics` (OpenMetrics with span-latency
//! exemplars when `Accept` asks for it, else the Prometheus text format), `GET /api/runs`,
//! `PUT /api/runs/{id}/loadgen/{file}` (`summary.json`, `histograms.json`,
//! `seconds.jsonl`, `requests.bin`), `POST /api/runs/{id}/diagnose`,
//! `GET /api/runs/{id}/diagnosis`. A distributed run ([`crate::distributed`]):
//! `POST /api/runs/{id}/distributed` (the plan and the number of loadgens),
//! `POST /api/runs/{id}/join` (held until all have joined; the reply is the loadgen's id,
//! share and start instant), `PUT /api/runs/{id}/loadgens/{k}/{file}` (each part's record;
//! checked when its summary arrives), and `diagnose` merges the parts first. Server events and metric points received over OTLP
//! while a run's time window was open (from loadgen's `summary.json`) are written into
//! that run's `otlp/` when it is diagnosed.

use crate::analysis::{self, Analysis};
use crate::distributed::coordinator::{self, CoordError, Coordinator, Definition};
use crate::distributed::merge;
use crate::otlp::store::Overflow;
use crate::otlp::{self, ReceiverConfig, Store, StoreLimits};
use crate::promexport::{self, Format, RunVerdict};
use crate::rundir::RunWriter;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures::StreamExt;
use satlab_diagnosis::{Diagnosis, VerdictKind};
use satlab_record::manifest::Manifest;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{RunDir, fsio};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The loadgen record files that can be uploaded.
pub const LOADGEN_FILES: [&str; 4] = [
    "summary.json",
    "histograms.json",
    "seconds.jsonl",
    "requests.bin",
];

/// Default largest upload, bytes (requests.bin holds 16 bytes per request).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// Slack around a run's window when picking the OTLP data that belongs to it.
const WINDOW_SLACK_NS: u64 = 2_000_000_000;

/// Options of `observer serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// OTLP gRPC listen address.
    pub otlp_grpc: SocketAddr,
    /// OTLP HTTP listen address.
    pub otlp_http: SocketAddr,
    /// API and `/metrics` listen address.
    pub listen: SocketAddr,
    /// Where run directories live.
    pub runs_dir: PathBuf,
    /// Largest upload, bytes.
    pub max_upload_bytes: u64,
    /// Receiver settings.
    pub receiver: ReceiverConfig,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not start.
    #[error(transparent)]
    Receiver(#[from] otlp::ReceiverError),
    /// The API listener could not bind.
    #[error("cannot listen on {addr} (--listen): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The runs directory is unusable.
    #[error("--runs-dir {path}: {source}")]
    RunsDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
struct AppState {
    store: Arc<Store>,
    coord: Arc<Coordinator>,
    /// Held while a run is merged and diagnosed.
    diagnosing: Arc<std::sync::Mutex<()>>,
    runs_dir: PathBuf,
    max_upload: u64,
}

/// An API error: status and a JSON body `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            axum::Json(serde_json::json!({"error": self.1, "code": self.0.as_u16()})),
        )
            .into_response()
    }
}

fn api(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

/// A run id: 1–64 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if valid_run_id(id) {
        Ok(())
    } else {
        Err(api(
            StatusCode::BAD_REQUEST,
            format!("invalid run id {id:?}: use 1-64 of A-Z a-z 0-9 . _ - (not . or ..)"),
        ))
    }
}

/// The API router over a store and a runs directory (OTLP listeners are separate).
pub fn router(store: Arc<Store>, runs_dir: PathBuf, max_upload: u64) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}/loadgen/{file}", put(upload))
        .route("/api/runs/{id}/distributed", post(create_distributed))
        .route("/api/runs/{id}/join", post(join_run))
        .route("/api/runs/{id}/loadgens/{k}/{file}", put(upload_part))
        .route("/api/runs/{id}/diagnose", post(diagnose))
        .route("/api/runs/{id}/diagnosis", get(get_diagnosis))
        .fallback(|| async {
            api(
                StatusCode::NOT_FOUND,
                "no such endpoint: see `observer serve --help`",
            )
        })
        .with_state(AppState {
            store,
            coord: Arc::new(Coordinator::new(&runs_dir)),
            diagnosing: Arc::default(),
            runs_dir,
            max_upload,
        })
}

/// One run in `GET /api/runs`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Directory name.
    pub id: String,
    /// `running`, `complete` or `interrupted`.
    pub status: String,
    /// Scenario, when known.
    pub scenario: Option<String>,
    /// Start, Unix ns.
    pub started_unix_ns: u64,
    /// What wrote it.
    pub created_by: String,
    /// Whether `diagnosis.json` exists.
    pub diagnosed: bool,
    /// The verdict, when diagnosed.
    pub verdict: Option<VerdictKind>,
}

/// What the run list reads of a `diagnosis.json`: the typed verdict kind.
#[derive(Debug, Deserialize)]
struct DiagnosedVerdict {
    verdict: VerdictOnly,
}

/// The kind of a [`satlab_diagnosis::Verdict`].
#[derive(Debug, Deserialize)]
struct VerdictOnly {
    kind: VerdictKind,
}

/// The runs under `runs_dir` (directories with a readable manifest), newest first.
pub fn scan_runs(runs_dir: &Path) -> Vec<RunInfo> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(runs_dir) else {
        return out;
    };
    for e in rd.flatten().take(10_000) {
        let id = e.file_name().to_string_lossy().into_owned();
        if !valid_run_id(&id) || !e.path().is_dir() {
            continue;
        }
        let dir = RunDir::new(e.path());
        let Ok(m) = fsio::read_json::<Manifest>(&dir.manifest()) else {
            continue;
        };
        let diagnosis = dir.diagnosis_json();
        let verdict = fsio::read_json::<DiagnosedVerdict>(&diagnosis)
            .ok()
            .map(|d| d.verdict.kind);
        out.push(RunInfo {
            id,
            status: serde_json::to_value(m.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            scenario: m.scenario,
            started_unix_ns: m.started_unix_ns,
            created_by: m.created_by,
            diagnosed: diagnosis.is_file(),
            verdict,
        });
    }
    out.sort_by(|a, b| {
        b.started_unix_ns
            .cmp(&a.started_unix_ns)
            .then(a.id.cmp(&b.id))
    });
    out
}

async fn list_runs(State(st): State<AppState>) -> Response {
    let dir = st.runs_dir.clone();
    let runs = tokio::task::spawn_blocking(move || scan_runs(&dir))
        .await
        .unwrap_or_default();
    axum::Json(runs).into_response()
}

async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let dir = st.runs_dir.clone();
    let runs = tokio::task::spawn_blocking(move || scan_runs(&dir))
        .await
        .unwrap_or_default();
    let verdicts: Vec<RunVerdict> = runs
        .iter()
        .filter_map(|r| {
            Some(RunVerdict {
                run: r.id.clone(),
                verdict: r.verdict?.name().to_string(),
            })
        })
        .collect();
    let families = promexport::families(
        &st.store.stats(),
        &verdicts,
        runs.len(),
        &st.store.span_latency(),
    );
    (
        [(header::CONTENT_TYPE, format.content_type())],
        format.render(&families),
    )
        .into_response()
}

fn ensure_run(runs_dir: &Path, id: &str) -> Result<RunDir, ApiError> {
    let root = runs_dir.join(id);
    let dir = RunDir::new(&root);
    if !dir.manifest().exists() {
        RunWriter::create(&root, "observer serve", None)
            .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    Ok(dir)
}

fn check_file(file: &str) -> Result<(), ApiError> {
    if LOADGEN_FILES.contains(&file) {
        Ok(())
    } else {
        Err(api(
            StatusCode::NOT_FOUND,
            format!(
                "unknown loadgen file {file:?}: one of {}",
                LOADGEN_FILES.join(", ")
            ),
        ))
    }
}

/// Stream an upload into `dir/file` (through a temporary file, renamed when whole), at most
/// `max` bytes; returns its size.
async fn receive(body: Body, dir: &Path, file: &str, max: u64) -> Result<u64, ApiError> {
    let target = dir.join(file);
    let tmp = dir.join(format!(".{file}.upload"));
    std::fs::create_dir_all(dir)
        .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut out = std::fs::File::create(&tmp)
        .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(api(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read upload: {e}"),
                ));
            }
        };
        written += chunk.len() as u64;
        if written > max {
            let _ = std::fs::remove_file(&tmp);
            return Err(api(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{file} is over the {max}-byte upload limit"),
            ));
        }
        if let Err(e) = out.write_all(&chunk) {
            let _ = std::fs::remove_file(&tmp);
            return Err(api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        }
    }
    let done = out.sync_all().and_then(|_| std::fs::rename(&tmp, &target));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    Ok(written)
}

async fn upload(
    State(st): State<AppState>,
    UrlPath((id, file)): UrlPath<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    check_file(&file)?;
    let dir = ensure_run(&st.runs_dir, &id)?;
    let target = dir.loadgen().dir().join(&file);
    let written = receive(body, dir.loadgen().dir(), &file, st.max_upload).await?;
    if file == "summary.json"
        && let Err(e) = fsio::read_json::<LoadgenSummary>(&target)
    {
        let _ = std::fs::remove_file(&target);
        return Err(api(
            StatusCode::BAD_REQUEST,
            format!("summary.json is not a loadgen summary: {e}"),
        ));
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id, "file": file, "bytes": written})),
    )
        .into_response())
}

fn coord_error(e: CoordError) -> ApiError {
    let status = match e {
        CoordError::NotFound(_) => StatusCode::NOT_FOUND,
        CoordError::Conflict(_) => StatusCode::CONFLICT,
        CoordError::Invalid(_) => StatusCode::BAD_REQUEST,
        CoordError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    api(status, e.to_string())
}

async fn create_distributed(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let def: Definition = serde_json::from_slice(&body).map_err(|e| {
        api(
            StatusCode::BAD_REQUEST,
            format!(
                "not a distributed run definition ({e}): e.g. {{\"loadgens\": 3, \"stages\": \"30:10s,60:10s\"}}"
            ),
        )
    })?;
    st.coord.create(&id, &def).map_err(coord_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id, "loadgens": def.loadgens,
            "join": format!("/api/runs/{id}/join")})),
    )
        .into_response())
}

/// `?loadgen=K` on a join: the id the loadgen asks for.
#[derive(Debug, Deserialize)]
struct JoinQuery {
    loadgen: Option<String>,
}

async fn join_run(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
    axum::extract::Query(q): axum::extract::Query<JoinQuery>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let want = q
        .loadgen
        .map(|k| {
            k.parse::<u32>().map_err(|_| {
                api(
                    StatusCode::BAD_REQUEST,
                    format!("?loadgen={k:?}: give a loadgen id, a whole number from 0"),
                )
            })
        })
        .transpose()?;
    let reply = st.coord.join(&id, want).await.map_err(coord_error)?;
    Ok(axum::Json(reply).into_response())
}

async fn upload_part(
    State(st): State<AppState>,
    UrlPath((id, k, file)): UrlPath<(String, String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    check_file(&file)?;
    let dir = RunDir::new(st.runs_dir.join(&id));
    let record = coordinator::read_record(&dir)
        .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e))?
        .ok_or_else(|| {
            api(
                StatusCode::NOT_FOUND,
                format!("no distributed run {id:?} has started"),
            )
        })?;
    let k: u32 = k
        .parse()
        .ok()
        .filter(|k| record.parts.iter().any(|p| p.loadgen == *k))
        .ok_or_else(|| {
            let ids: Vec<String> = record.parts.iter().map(|p| p.loadgen.to_string()).collect();
            api(
                StatusCode::NOT_FOUND,
                format!("run {id:?} has loadgens {}, not {k:?}", ids.join(", ")),
            )
        })?;
    let parts = coordinator::parts_dir(&dir);
    let done = parts.join(k.to_string());
    let duplicate = || {
        api(
            StatusCode::CONFLICT,
            format!(
                "loadgen {k} of run {id:?} has uploaded its record already (two loadgens with \
                 one id?); the first is kept"
            ),
        )
    };
    if done.exists() {
        return Err(duplicate());
    }
    let staging = parts.join(format!(".{k}.staging"));
    let written = receive(body, &staging, &file, st.max_upload).await?;
    if file == "summary.json" {
        let checked = fsio::read_json::<LoadgenSummary>(&staging.join(&file))
            .map_err(|e| format!("summary.json is not a loadgen summary: {e}"))
            .and_then(|s| coordinator::check_part(&s, &record, k))
            .and_then(|()| merge::check_part_files(&staging));
        if let Err(e) = checked {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(api(StatusCode::CONFLICT, e));
        }
        if done.exists() {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(duplicate());
        }
        std::fs::rename(&staging, &done)
            .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id, "loadgen": k, "file": file, "bytes": written})),
    )
        .into_response())
}

/// Write the OTLP data of a run's window into its `otlp/`, mark it complete, diagnose it.
fn diagnose_run(store: &Store, runs_dir: &Path, id: &str) -> Result<Box<Diagnosis>, ApiError> {
    let root = runs_dir.join(id);
    let dir = RunDir::new(&root);
    let mut manifest: Manifest = fsio::read_json(&dir.manifest()).map_err(|_| {
        api(
            StatusCode::NOT_FOUND,
            format!("no run {id:?}: upload its loadgen record first"),
        )
    })?;
    if let Some(mut record) =
        coordinator::read_record(&dir).map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e))?
    {
        let merged = merge::merge(&coordinator::parts_dir(&dir), &dir.loadgen(), &mut record);
        coordinator::write_record(&dir, &record)
            .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        merged.map_err(|e| api(StatusCode::CONFLICT, format!("run {id:?}: {e}")))?;
    }
    let summary: LoadgenSummary = fsio::read_json(&dir.loadgen().summary()).map_err(|e| {
        api(
            StatusCode::CONFLICT,
            format!("run {id:?} has no usable loadgen/summary.json yet: {e}"),
        )
    })?;
    let window = (
        summary.started_unix_ns.saturating_sub(WINDOW_SLACK_NS),
        summary.ended_unix_ns.saturating_add(WINDOW_SLACK_NS),
    );
    store
        .write_to(&dir, Some(window))
        .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if manifest.status == satlab_record::manifest::RunStatus::Running {
        manifest.status = satlab_record::manifest::RunStatus::Complete;
        manifest.started_unix_ns = summary.started_unix_ns;
        manifest.ended_unix_ns = summary.ended_unix_ns;
        fsio::write_json(&dir.manifest(), &manifest)
            .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    match analysis::diagnose(&root) {
        Analysis::Done { diagnosis, .. } => Ok(diagnosis),
        Analysis::Failed(e) => Err(api(StatusCode::UNPROCESSABLE_ENTITY, e)),
    }
}

async fn diagnose(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let store = st.store.clone();
    let runs = st.runs_dir.clone();
    let one = st.diagnosing.clone();
    let diagnosis = tokio::task::spawn_blocking(move || {
        // Every replica of a distributed run asks as it finishes: one merge at a time.
        let _one = one.lock().unwrap_or_else(|e| e.into_inner());
        diagnose_run(&store, &runs, &id)
    })
    .await
    .map_err(|e| api(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(axum::Json(diagnosis).into_response())
}

async fn get_diagnosis(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let path = RunDir::new(st.runs_dir.join(&id)).diagnosis_json();
    let bytes = tokio::fs::read(&path).await.map_err(|_| {
        api(
            StatusCode::NOT_FOUND,
            format!("run {id:?} has no diagnosis yet"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// Run `observer serve` until `shutdown` resolves.
pub async fn serve(
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    std::fs::create_dir_all(&opts.runs_dir).map_err(|source| ServeError::RunsDir {
        path: opts.runs_dir.clone(),
        source,
    })?;
    let store = Arc::new(Store::new(StoreLimits {
        overflow: Overflow::DropOldest,
        ..StoreLimits::default()
    }));
    let receiver =
        otlp::start(store.clone(), opts.otlp_grpc, opts.otlp_http, opts.receiver).await?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    eprintln!(
        "observer serve: OTLP gRPC on {}, OTLP HTTP on {}, API and /metrics on {}",
        receiver.grpc_addr,
        receiver.http_addr,
        listener.local_addr().unwrap_or(opts.listen)
    );
    let app = router(store, opts.runs_dir, opts.max_upload_bytes);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    receiver.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids() {
        assert!(valid_run_id("gc-spikes-20260101T000000Z"));
        assert!(valid_run_id("a.b_c-1"));
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(65), "é"] {
            assert!(!valid_run_id(bad), "{bad:?}");
        }
    }
}
