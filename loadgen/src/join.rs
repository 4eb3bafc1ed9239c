//! Joining a distributed run held by `observer serve`, and handing the record back.
//!
//! `loadgen --join http://OBSERVER/api/runs/ID` posts to `…/join` and waits there until
//! every loadgen of the run has joined (or the observer's join timeout); the reply names
//! this loadgen's id, its share of the plan and the start instant. After the run the four
//! record files go to `…/loadgens/{id}/{file}`.

use crate::observer_client::{Client, SubmitError};
use satlab_record::distributed::{DistributedPart, JoinReply};
use std::path::Path;

/// The record files uploaded, summary last: the observer checks a part when its summary
/// arrives, so the others are already there.
pub const PART_FILES: [&str; 4] = [
    "histograms.json",
    "seconds.jsonl",
    "requests.bin",
    "summary.json",
];

/// Why joining or uploading failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// `--join` is not a run URL.
    #[error("--join {0:?}: give the run's URL on observer serve, http://HOST:PORT/api/runs/ID")]
    Url(String),
    /// The observer could not be reached.
    #[error(transparent)]
    Http(#[from] SubmitError),
    /// The observer refused.
    #[error("{what}: the observer answered HTTP {status}: {body}")]
    Refused {
        /// What was asked.
        what: String,
        /// The status.
        status: u16,
        /// Its JSON error.
        body: String,
    },
    /// The reply is not a join reply.
    #[error("{url}: not a join reply ({message}): {body}")]
    Reply {
        /// The URL.
        url: String,
        /// The parse error.
        message: String,
        /// The body.
        body: String,
    },
}

/// The run URL without a trailing slash, checked.
pub fn run_url(url: &str) -> Result<String, JoinError> {
    let u = url.trim_end_matches('/');
    let ok = u.starts_with("http://")
        && u.rsplit_once("/api/runs/")
            .is_some_and(|(_, id)| !id.is_empty() && !id.contains('/'));
    if ok {
        Ok(u.to_string())
    } else {
        Err(JoinError::Url(url.to_string()))
    }
}

/// Join the run, as loadgen `id` when given (else the observer picks): waits until the
/// observer announces the start.
pub async fn join(client: &Client, run_url: &str, id: Option<u32>) -> Result<JoinReply, JoinError> {
    let url = match id {
        Some(k) => format!("{run_url}/join?loadgen={k}"),
        None => format!("{run_url}/join"),
    };
    let (status, body) = client.send_bytes("POST", &url, Vec::new()).await?;
    if !(200..300).contains(&status) {
        return Err(JoinError::Refused {
            what: format!("joining {run_url}"),
            status,
            body,
        });
    }
    serde_json::from_str(&body).map_err(|e| JoinError::Reply {
        url,
        message: e.to_string(),
        body,
    })
}

/// The tag a joined loadgen's record carries.
pub fn part(reply: &JoinReply) -> DistributedPart {
    DistributedPart {
        run: reply.run.clone(),
        loadgen: reply.loadgen,
        of: reply.of,
        start_unix_ns: reply.start_unix_ns,
    }
}

/// Upload the record in `dir` as loadgen `id`'s part of the run.
pub async fn upload(client: &Client, run_url: &str, id: u32, dir: &Path) -> Result<(), JoinError> {
    for f in PART_FILES {
        let p = dir.join(f);
        if !p.is_file() {
            continue;
        }
        let (status, body) = client
            .send_file("PUT", &format!("{run_url}/loadgens/{id}/{f}"), &p)
            .await?;
        if !(200..300).contains(&status) {
            return Err(JoinError::Refused {
                what: format!("uploading {f}"),
                status,
                body,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_urls() {
        assert_eq!(
            run_url("http://obs:9464/api/runs/r1/").unwrap(),
            "http://obs:9464/api/runs/r1"
        );
        for bad in [
            "obs:9464/api/runs/r1",
            "http://obs:9464/",
            "http://o/api/runs/",
            "http://o/api/runs/a/b",
        ] {
            let e = run_url(bad).unwrap_err().to_string();
            assert!(e.contains("--join") && e.contains("/api/runs/ID"), "{e}");
        }
    }
}
