//! Reports of a diagnosis: an 80-column terminal summary, `diagnosis.json` and a
//! self-contained HTML page. They read the model and are never read by it.

pub mod html;
pub mod json;
pub mod span_account;
pub mod svg;
pub mod text;
pub mod time_chart;
