//! Shared helpers for satlab's end-to-end and lab-configuration tests.
//!
//! The tests in this package run the real programs and the real tools (docker-compose,
//! promtool). Helpers here find the workspace, skip cleanly when a tool is missing (or
//! fail under `SATLAB_REQUIRE_ALL=1`), and hold the checks the lab configuration must
//! pass: PromQL metric-name extraction, the OpenTelemetry → Prometheus name translation,
//! and structural checks of the compose file, the Collector config and the dashboards.

pub mod bins;
pub mod bounds;
pub mod collector;
pub mod compose;
pub mod dashboard;
pub mod emitted;
pub mod http;
pub mod instruments;
pub mod modgraph;
pub mod prom_names;
pub mod promql;
pub mod tools;
pub mod yaml;

pub use tools::{require_tool, workspace_root};
