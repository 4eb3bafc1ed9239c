//! The service's routes, named once for the router, the handlers and the telemetry.

/// The service's one API.
pub const VECTOR_ADD: &str = "/api/vector/add";
/// Liveness probe.
pub const HEALTHZ: &str = "/healthz";
/// Readiness probe (503 while draining).
pub const READYZ: &str = "/readyz";
/// The run-time settings.
pub const ADMIN_CONFIG: &str = "/admin/config";
/// Recent server events.
pub const ADMIN_EVENTS: &str = "/admin/events";

/// Every route.
pub const ALL: [&str; 5] = [VECTOR_ADD, HEALTHZ, READYZ, ADMIN_CONFIG, ADMIN_EVENTS];
