//! The JSON report: `diagnosis.json` (schema [`crate::model::SCHEMA`]), pretty-printed with
//! a final newline.

use crate::model::Diagnosis;

/// Render the diagnosis as `diagnosis.json`.
pub fn render(d: &Diagnosis) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(d)?;
    s.push('\n');
    Ok(s)
}
