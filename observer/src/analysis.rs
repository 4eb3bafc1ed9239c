//! The hook from the lab and `observer serve` to the diagnosis of a finished run.

use std::path::Path;

/// The outcome of diagnosing a run directory.
#[derive(Debug, Clone)]
pub enum Analysis {
    /// The diagnosis ran: its JSON and a one-paragraph summary.
    Done {
        /// `diagnosis.json` as written.
        json: serde_json::Value,
        /// A short summary for the terminal.
        summary: String,
    },
    /// The diagnosis failed.
    Failed(String),
}

/// Diagnose the run in `dir` (writes `diagnosis.json`, `report.txt`, `report.html`).
pub fn diagnose(dir: &Path) -> Analysis {
    match crate::diagnosis::diagnose_and_write(dir) {
        Ok(d) => match serde_json::to_value(&d) {
            Ok(json) => Analysis::Done {
                json,
                summary: crate::report::text::render(&d),
            },
            Err(e) => Analysis::Failed(format!("cannot serialise the diagnosis: {e}")),
        },
        Err(e) => Analysis::Failed(e.to_string()),
    }
}

/// The verdict name in a `diagnosis.json` value (`"verdict": "server"` or
/// `"verdict": {"kind": "server", ...}`).
pub fn verdict_of(json: &serde_json::Value) -> Option<String> {
    let v = json.get("verdict")?;
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    ["kind", "name", "verdict"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_forms() {
        let j = serde_json::json!({"verdict": "server"});
        assert_eq!(verdict_of(&j).as_deref(), Some("server"));
        let j = serde_json::json!({"verdict": {"kind": "socket"}});
        assert_eq!(verdict_of(&j).as_deref(), Some("socket"));
        assert_eq!(verdict_of(&serde_json::json!({})), None);
    }
}
