//! Reports of a diagnosis: an 80-column terminal summary and a self-contained HTML page.

pub mod html;
pub mod svg;
pub mod text;
