//! Socket trouble: connections fail or wait in the kernel while both CPUs have headroom.

use super::levels::CPU_SATURATED;
use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use crate::model::{Evidence, StepRow};

/// Connection-phase failures, listen-queue overflows, SYN retransmits, TIME_WAIT near the
/// port range or latencies at the SYN timeouts, while neither side is short of CPU (or the
/// client's CPU goes to connects that fail at once).
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketTrouble {
    /// The client is at its CPU capacity or a core ceiling.
    pub client_saturated: bool,
    /// The server is at its CPU capacity or a core ceiling.
    pub server_saturated: bool,
}

impl SocketTrouble {
    /// Share of connection-phase failures that makes a socket problem material (0.5%):
    /// healthy loopback runs have none at all.
    pub const ERROR_SHARE: f64 = 0.005;
    /// Listen-queue overflows/drops or SYN retransmits in a step that count: a healthy
    /// server's listen queue never overflows on loopback; a handful may come from unrelated
    /// traffic.
    pub const KERNEL_DROPS_MIN: u64 = 5;
    /// TIME_WAIT sockets as a share of the ephemeral port range: above 80% new connections
    /// are about to fail with EADDRNOTAVAIL.
    pub const TIME_WAIT_PORT_SHARE: f64 = 0.80;
    /// Share of requests failing in the connection phase above which the socket verdict
    /// stands even with the client's CPU at capacity: such failures return at once, so a
    /// closed loop spins on them and the client's CPU is a consequence, not the cause.
    pub const ERRORS_DOMINANT: f64 = 0.50;

    /// The socket figures of a step that crossed their thresholds (empty when none did),
    /// whatever the CPUs say.
    pub fn figures(row: &StepRow, ctx: &Ctx) -> Vec<Evidence> {
        let mut out = Vec::new();
        if row.socket_error_share >= Self::ERROR_SHARE {
            let kinds: Vec<String> = row
                .errors
                .keys()
                .filter(|k| k.is_socket())
                .map(ToString::to_string)
                .collect();
            out.push(ev(
                "socket_error_share",
                row.socket_error_share,
                Self::ERROR_SHARE,
                ">=",
                format!(
                    "{} of requests failed in the connection phase ({})",
                    pct(row.socket_error_share),
                    kinds.join(", ")
                ),
            ));
        }
        let d = |k: &str| row.kernel.deltas.get(k).copied().unwrap_or(0);
        let listen = d("ListenOverflows").saturating_add(d("ListenDrops"));
        if listen >= Self::KERNEL_DROPS_MIN {
            out.push(ev(
                "listen_drops",
                listen as f64,
                Self::KERNEL_DROPS_MIN as f64,
                ">=",
                format!("{listen} listen-queue overflows/drops in the kernel (accept queue full)"),
            ));
        }
        let syn = d("TCPSynRetrans");
        if syn >= Self::KERNEL_DROPS_MIN {
            out.push(ev(
                "syn_retransmits",
                syn as f64,
                Self::KERNEL_DROPS_MIN as f64,
                ">=",
                format!("{syn} SYN retransmits: connects waited for a timeout"),
            ));
        }
        if let (Some(tw), Some(w)) = (row.kernel.tw_max, row.kernel.port_range_width) {
            let share = tw as f64 / w.max(1) as f64;
            if share >= Self::TIME_WAIT_PORT_SHARE {
                out.push(ev(
                    "time_wait_port_share",
                    share,
                    Self::TIME_WAIT_PORT_SHARE,
                    ">=",
                    format!(
                        "{tw} sockets in TIME_WAIT: {} of the {w}-port ephemeral range",
                        pct(share)
                    ),
                ));
            }
        }
        if ctx.syn_modes && matches!(ctx.position, Position::Saturated | Position::Single) {
            out.push(ev(
                "syn_timeout_modes",
                1.0,
                1.0,
                ">=",
                "latencies cluster at the SYN retransmit timeouts (≈1 s / 3 s)".into(),
            ));
        }
        out
    }

    /// The weak form, where no other signal decided: socket figures alone.
    pub fn weak(row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let figures = Self::figures(row, ctx);
        (!figures.is_empty()).then(|| Finding::new(figures, 0.45))
    }
}

impl Signal for SocketTrouble {
    fn name(&self) -> &'static str {
        "socket_error_share"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let mut evidence = Self::figures(row, ctx);
        let spinning = self.client_saturated && row.socket_error_share >= Self::ERRORS_DOMINANT;
        let headroom = !self.server_saturated && (!self.client_saturated || spinning);
        let decisive = matches!(ctx.position, Position::Saturated | Position::Single)
            || row.socket_error_share >= Self::ERROR_SHARE;
        if evidence.is_empty() || !headroom || !decisive {
            return None;
        }
        let n = evidence.len();
        let cs = row.client_cpu.unwrap_or(0.0);
        if spinning {
            evidence.push(ev(
                "client_cpu",
                cs,
                CPU_SATURATED,
                ">=",
                format!(
                    "client CPU at {} spent on connections that fail at once ({} of requests)",
                    pct(cs),
                    pct(row.socket_error_share)
                ),
            ));
        } else {
            evidence.push(cpu_headroom(row));
        }
        let conf = (0.6 + 0.1 * (n as f64 - 1.0)).min(0.9)
            * if row.server_cpu.is_some() { 1.0 } else { 0.85 };
        Some(Finding::new(evidence, conf))
    }
}

fn cpu_headroom(row: &StepRow) -> Evidence {
    let c = row.client_cpu.unwrap_or(f64::NAN);
    match row.server_cpu {
        Some(us) => ev(
            "max_cpu",
            us.max(c),
            CPU_SATURATED,
            "<",
            format!(
                "both sides have CPU headroom: client {}, server {}",
                pct(c),
                pct(us)
            ),
        ),
        None => ev(
            "client_cpu",
            c,
            CPU_SATURATED,
            "<",
            format!("client CPU at {} (no server CPU samples)", pct(c)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::row;
    use satlab_record::{ErrorKind, Failure};

    fn names(f: &Finding) -> Vec<&str> {
        f.evidence.iter().map(|e| e.signal.as_str()).collect()
    }

    #[test]
    fn kernel_drops_decide_only_at_saturation() {
        let mut r = row();
        r.kernel.deltas.insert("ListenOverflows".into(), 40);
        r.kernel.deltas.insert("TCPSynRetrans".into(), 30);
        let s = SocketTrouble::default();
        let f = s.check(&r, &Ctx::at(Position::Saturated)).unwrap();
        assert_eq!(
            names(&f),
            vec!["listen_drops", "syn_retransmits", "max_cpu"]
        );
        assert!((f.confidence - 0.7).abs() < 1e-12);
        // Below the knee kernel counters alone do not make a verdict.
        assert!(s.check(&r, &Ctx::at(Position::Scaling)).is_none());
        // A saturated server has no headroom: not a socket problem.
        let busy = SocketTrouble {
            server_saturated: true,
            ..s
        };
        assert!(busy.check(&r, &Ctx::at(Position::Saturated)).is_none());
        // The weak form keeps the figures.
        assert_eq!(
            SocketTrouble::weak(&r, &Ctx::at(Position::Saturated))
                .unwrap()
                .confidence,
            0.45
        );
    }

    #[test]
    fn a_client_spinning_on_failed_connects_is_still_socket() {
        let mut r = row();
        r.socket_error_share = 0.9;
        r.errors
            .insert(Failure::error(ErrorKind::AddrNotAvailable).unwrap(), 9000);
        r.client_cpu = Some(0.95);
        let s = SocketTrouble {
            client_saturated: true,
            server_saturated: false,
        };
        let f = s.check(&r, &Ctx::at(Position::NoPlateau)).unwrap();
        assert_eq!(names(&f), vec!["socket_error_share", "client_cpu"]);
        assert!(
            f.evidence[0].text.contains("addr_not_available"),
            "{}",
            f.evidence[0].text
        );
        // With fewer failures the saturated client is the more likely cause.
        r.socket_error_share = 0.1;
        assert!(s.check(&r, &Ctx::at(Position::Saturated)).is_none());
    }

    #[test]
    fn time_wait_near_the_port_range() {
        let mut r = row();
        r.kernel.tw_max = Some(27_000);
        r.kernel.port_range_width = Some(28_232);
        let f = SocketTrouble::default()
            .check(&r, &Ctx::at(Position::Single))
            .unwrap();
        assert_eq!(f.evidence[0].signal, "time_wait_port_share");
        assert!(
            f.evidence[0].text.contains("96% of the 28232-port"),
            "{}",
            f.evidence[0].text
        );
    }
}
