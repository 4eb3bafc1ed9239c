//! The server's configuration: settings fixed at start ([`Config`]) and the run-time
//! adjustable ones ([`Settings`]: work profile and server events), with their caps.

use crate::error::InvalidSetting;
use satlab_common::duration::{format_duration, serde_human};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// Cap on the CPU cost of one request (server default or `?cpu=`).
pub const MAX_CPU_COST: Duration = Duration::from_secs(1);
/// Cap on explicit compute-loop iterations per request.
pub const MAX_CPU_ITERATIONS: u64 = 2_000_000_000;
/// Cap on the awaited I/O delay, the pool hold time and the recycle cost.
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// Cap on the stop-the-world pause and the CPU burst duration.
pub const MAX_EVENT_DURATION: Duration = Duration::from_secs(10);
/// Shortest CPU-burst period.
pub const MIN_BURST_EVERY: Duration = Duration::from_millis(10);
/// Cap on the delay between two accepts.
pub const MAX_ACCEPT_DELAY: Duration = Duration::from_secs(1);
/// Cap on the downstream pool size.
pub const MAX_POOL_SIZE: u32 = 100_000;
/// Cap on the request body limit (64 MiB).
pub const MAX_BODY_LIMIT: usize = 64 << 20;
/// Default request body limit (1 MiB).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Default vector-length cap.
pub const DEFAULT_MAX_LEN: usize = 100_000;

/// Per-request work, applied to every `POST /api/vector/add` unless overridden by query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// CPU cost: the compute loop runs until the handling thread's CPU clock has advanced
    /// by this much.
    #[serde(with = "serde_human")]
    pub cpu_cost: Duration,
    /// Compute-loop rounds (used instead of `cpu_cost` when non-zero).
    pub cpu_iterations: u64,
    /// Awaited I/O delay.
    #[serde(with = "serde_human")]
    pub io_delay: Duration,
    /// How long each request holds a downstream-pool permit (needs `pool_size` > 0).
    #[serde(with = "serde_human")]
    pub pool_hold: Duration,
}

/// Server events and admission control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Stop-the-world pause on every Nth admitted request (0 = off).
    pub pause_every: u64,
    /// Pause length.
    #[serde(with = "serde_human")]
    pub pause_duration: Duration,
    /// Recycle the downstream pool on every Nth pool use (0 = off).
    pub recycle_every: u64,
    /// Reconnect cost: every permit is held this long during a recycle.
    #[serde(with = "serde_human")]
    pub recycle_cost: Duration,
    /// CPU burst period (0 = off).
    #[serde(with = "serde_human")]
    pub burst_every: Duration,
    /// CPU burst length.
    #[serde(with = "serde_human")]
    pub burst_duration: Duration,
    /// Shed requests when this many are already in flight (0 = off).
    pub shed_above: u64,
    /// Status for shed requests: 429, or 503 with `Retry-After`.
    pub shed_status: u16,
    /// Sleep between two accepts (slow accept loop).
    #[serde(with = "serde_human")]
    pub accept_delay: Duration,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            pause_every: 0,
            pause_duration: Duration::ZERO,
            recycle_every: 0,
            recycle_cost: Duration::ZERO,
            burst_every: Duration::ZERO,
            burst_duration: Duration::ZERO,
            shed_above: 0,
            shed_status: 429,
            accept_delay: Duration::ZERO,
        }
    }
}

/// Everything the admin API shows and changes at run time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Per-request work.
    pub profile: Profile,
    /// Server events.
    pub events: Events,
}

/// A partial update of [`Profile`] (absent fields unchanged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, with = "serde_human::option")]
    cpu_cost: Option<Duration>,
    cpu_iterations: Option<u64>,
    #[serde(default, with = "serde_human::option")]
    io_delay: Option<Duration>,
    #[serde(default, with = "serde_human::option")]
    pool_hold: Option<Duration>,
}

/// A partial update of [`Events`] (absent fields unchanged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsPatch {
    pause_every: Option<u64>,
    #[serde(default, with = "serde_human::option")]
    pause_duration: Option<Duration>,
    recycle_every: Option<u64>,
    #[serde(default, with = "serde_human::option")]
    recycle_cost: Option<Duration>,
    #[serde(default, with = "serde_human::option")]
    burst_every: Option<Duration>,
    #[serde(default, with = "serde_human::option")]
    burst_duration: Option<Duration>,
    shed_above: Option<u64>,
    shed_status: Option<u16>,
    #[serde(default, with = "serde_human::option")]
    accept_delay: Option<Duration>,
}

/// A partial update of [`Settings`], the body of `PUT /admin/config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default)]
    profile: ProfilePatch,
    #[serde(default)]
    events: EventsPatch,
}

impl Settings {
    /// Apply a patch: fields present replace the current ones.
    pub fn merged(&self, patch: &SettingsPatch) -> Settings {
        let mut s = self.clone();
        let (p, e) = (&patch.profile, &patch.events);
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src {
                    $dst = v;
                }
            };
        }
        set!(s.profile.cpu_cost, p.cpu_cost);
        set!(s.profile.cpu_iterations, p.cpu_iterations);
        set!(s.profile.io_delay, p.io_delay);
        set!(s.profile.pool_hold, p.pool_hold);
        set!(s.events.pause_every, e.pause_every);
        set!(s.events.pause_duration, e.pause_duration);
        set!(s.events.recycle_every, e.recycle_every);
        set!(s.events.recycle_cost, e.recycle_cost);
        set!(s.events.burst_every, e.burst_every);
        set!(s.events.burst_duration, e.burst_duration);
        set!(s.events.shed_above, e.shed_above);
        set!(s.events.shed_status, e.shed_status);
        set!(s.events.accept_delay, e.accept_delay);
        s
    }

    /// Check every value against its cap; `pool_size` is the fixed pool size.
    pub fn validate(&self, pool_size: u32) -> Result<(), InvalidSetting> {
        let (p, e) = (&self.profile, &self.events);
        at_most("cpu_cost", p.cpu_cost, MAX_CPU_COST)?;
        if p.cpu_iterations > MAX_CPU_ITERATIONS {
            return Err(InvalidSetting::new(
                "cpu_iterations",
                format!(
                    "{} is above the cap of {MAX_CPU_ITERATIONS}",
                    p.cpu_iterations
                ),
            ));
        }
        at_most("io_delay", p.io_delay, MAX_DELAY)?;
        at_most("pool_hold", p.pool_hold, MAX_DELAY)?;
        if !p.pool_hold.is_zero() && pool_size == 0 {
            return Err(InvalidSetting::new(
                "pool_hold",
                "needs a downstream pool: set --pool-size K (K > 0)",
            ));
        }
        at_most("pause_duration", e.pause_duration, MAX_EVENT_DURATION)?;
        if e.pause_every > 0 && e.pause_duration.is_zero() {
            return Err(InvalidSetting::new(
                "pause_duration",
                "pause_every is set, so give the pause a length, e.g. 50ms",
            ));
        }
        at_most("recycle_cost", e.recycle_cost, MAX_DELAY)?;
        if e.recycle_every > 0 && pool_size == 0 {
            return Err(InvalidSetting::new(
                "recycle_every",
                "recycling needs a downstream pool: set --pool-size K (K > 0)",
            ));
        }
        at_most("burst_duration", e.burst_duration, MAX_EVENT_DURATION)?;
        if !e.burst_every.is_zero() {
            if e.burst_every < MIN_BURST_EVERY {
                return Err(InvalidSetting::new(
                    "burst_every",
                    format!(
                        "{} is below the minimum period of {}",
                        format_duration(e.burst_every),
                        format_duration(MIN_BURST_EVERY)
                    ),
                ));
            }
            if e.burst_duration.is_zero() || e.burst_duration >= e.burst_every {
                return Err(InvalidSetting::new(
                    "burst_duration",
                    "must be above zero and shorter than burst_every",
                ));
            }
        }
        if e.shed_status != 429 && e.shed_status != 503 {
            return Err(InvalidSetting::new(
                "shed_status",
                format!("{} is not allowed: use 429 or 503", e.shed_status),
            ));
        }
        at_most("accept_delay", e.accept_delay, MAX_ACCEPT_DELAY)?;
        Ok(())
    }
}

fn at_most(field: &'static str, value: Duration, cap: Duration) -> Result<(), InvalidSetting> {
    if value > cap {
        return Err(InvalidSetting::new(
            field,
            format!(
                "{} is above the cap of {}",
                format_duration(value),
                format_duration(cap)
            ),
        ));
    }
    Ok(())
}

/// The full server configuration: fixed-at-start values plus the initial [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Listen backlog (the `listen(2)` argument; the kernel caps it at `somaxconn`).
    pub backlog: u32,
    /// Downstream pool size K (0 = no pool).
    pub pool_size: u32,
    /// Request body limit in bytes.
    pub max_body: usize,
    /// Vector-length cap.
    pub max_len: usize,
    /// Bearer token for the admin API (required for a non-loopback listen address).
    pub admin_token: Option<String>,
    /// Longest wait for in-flight requests at shutdown.
    pub drain_timeout: Duration,
    /// Initial run-time settings.
    pub settings: Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            backlog: 1024,
            pool_size: 0,
            max_body: DEFAULT_MAX_BODY,
            max_len: DEFAULT_MAX_LEN,
            admin_token: None,
            drain_timeout: Duration::from_secs(10),
            settings: Settings::default(),
        }
    }
}

/// The fixed part as shown by `GET /admin/config`.
#[derive(Debug, Clone, Serialize)]
pub struct FixedView {
    /// Listen address.
    pub listen: String,
    /// Listen backlog.
    pub backlog: u32,
    /// Pool size.
    pub pool_size: u32,
    /// Body limit.
    pub max_body: usize,
    /// Vector-length cap.
    pub max_len: usize,
}

impl Config {
    /// Validate everything; the error names the offending setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !self.listen.ip().is_loopback() && self.admin_token.is_none() {
            return Err(InvalidSetting::new(
                "admin_token",
                format!(
                    "listening on the non-loopback address {} exposes the admin API: \
                     set --admin-token TOKEN (or SATLAB_TARGET_ADMIN_TOKEN)",
                    self.listen
                ),
            ));
        }
        if let Some(t) = &self.admin_token
            && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(InvalidSetting::new(
                "admin_token",
                "must be non-empty without spaces or control characters",
            ));
        }
        if self.backlog == 0 || self.backlog > 65_535 {
            return Err(InvalidSetting::new(
                "backlog",
                "must be between 1 and 65535",
            ));
        }
        if self.pool_size > MAX_POOL_SIZE {
            return Err(InvalidSetting::new(
                "pool_size",
                format!("must be at most {MAX_POOL_SIZE}"),
            ));
        }
        if self.max_body == 0 || self.max_body > MAX_BODY_LIMIT {
            return Err(InvalidSetting::new(
                "max_body",
                format!("must be between 1 and {MAX_BODY_LIMIT} bytes"),
            ));
        }
        if self.max_len == 0 {
            return Err(InvalidSetting::new("max_len", "must be at least 1"));
        }
        self.settings.validate(self.pool_size)
    }

    /// The fixed part for the admin API.
    pub fn fixed_view(&self) -> FixedView {
        FixedView {
            listen: self.listen.to_string(),
            backlog: self.backlog,
            pool_size: self.pool_size,
            max_body: self.max_body,
            max_len: self.max_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let mut c = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "admin_token");
        c.admin_token = Some("s3cret".into());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn caps_are_enforced_and_named() {
        let mut s = Settings::default();
        s.profile.cpu_cost = Duration::from_secs(2);
        assert_eq!(s.validate(0).unwrap_err().field, "cpu_cost");
        let mut s = Settings::default();
        s.events.recycle_every = 10;
        assert_eq!(s.validate(0).unwrap_err().field, "recycle_every");
        assert_eq!(s.validate(4), Ok(()));
        let mut s = Settings::default();
        s.events.shed_status = 500;
        assert_eq!(s.validate(0).unwrap_err().field, "shed_status");
        let mut s = Settings::default();
        s.events.burst_every = Duration::from_secs(1);
        assert_eq!(s.validate(0).unwrap_err().field, "burst_duration");
        let mut s = Settings::default();
        s.events.pause_every = 5;
        assert_eq!(s.validate(0).unwrap_err().field, "pause_duration");
    }

    #[test]
    fn patch_merges_and_rejects_unknown_fields() {
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"events":{"pause_every":1000,"pause_duration":"50ms"}}"#)
                .unwrap();
        let s = Settings::default().merged(&patch);
        assert_eq!(s.events.pause_every, 1000);
        assert_eq!(s.events.pause_duration, Duration::from_millis(50));
        assert_eq!(s.profile, Profile::default());
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"events":{"pause":1}}"#).is_err());
        assert!(
            serde_json::from_str::<SettingsPatch>(r#"{"profile":{"io_delay":"5 parsecs"}}"#)
                .is_err()
        );
    }
}
