//! Telemetry names shared by the emitters, the OTLP receiver and the dashboard checks.

/// Server request duration histogram (s), semantic conventions.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// Server in-flight requests up-down counter, semantic conventions.
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
/// Client request duration histogram (s), semantic conventions.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";
/// Process CPU utilisation gauge (0–1 of the CPUs the process may use).
pub const PROCESS_CPU_UTILIZATION: &str = "process.cpu.utilization";
/// Time spent waiting for a downstream pool permit (s).
pub const POOL_WAIT_DURATION: &str = "satlab.pool.wait.duration";
/// Duration of server events (s), attribute [`ATTR_EVENT_NAME`].
pub const EVENT_DURATION: &str = "satlab.event.duration";
/// Requests refused by load shedding, attribute `http.response.status_code`.
pub const SHED_REQUESTS: &str = "satlab.shed.requests";
/// Telemetry items dropped because an export queue was full, attribute `signal`.
pub const TELEMETRY_DROPPED: &str = "satlab.telemetry.dropped";

/// Attribute: the server event's short name (`gc_pause`, ...).
pub const ATTR_EVENT_NAME: &str = "satlab.event.name";
/// Attribute: the event's sequence number, from 1.
pub const ATTR_EVENT_SEQ: &str = "satlab.event.seq";
/// Attribute: the event's start, Unix ns.
pub const ATTR_EVENT_START: &str = "satlab.event.start_unix_nano";
/// Attribute: the event's duration, ns.
pub const ATTR_EVENT_DURATION_NS: &str = "satlab.event.duration_ns";
/// Attribute: what an event stops while it lasts, `process` or `part` (the default).
pub const ATTR_EVENT_SCOPE: &str = "satlab.event.scope";
/// Attribute: the request (or pool use) count that fired a count-driven event.
pub const ATTR_EVENT_REQUEST_INDEX: &str = "satlab.event.request_index";
/// Attribute: the load step index on client telemetry.
pub const ATTR_STEP: &str = "satlab.step";

/// Attribute on client spans of an open-loop run: when the request was meant to be sent,
/// Unix ns (the span itself starts at the actual send).
pub const ATTR_INTENDED_START: &str = "satlab.intended_start_unix_nano";
/// Attribute on server spans: time the request waited for a pool permit, ns.
pub const ATTR_POOL_WAIT_NS: &str = "satlab.pool.wait_ns";

/// Default service names.
pub const SERVICE_TARGET: &str = "target-api";
/// Default service name of the load generator.
pub const SERVICE_LOADGEN: &str = "loadgen";
