//! Kernel TCP counters of a process's network namespace, from `/proc/PID/net/...`.
//!
//! The parsers are pure functions over the file text; [`KernelReader`] reads the files of
//! one process and turns successive readings into per-interval deltas.

use satlab_record::samples::KernelSample;
use std::collections::BTreeMap;
use std::time::Instant;

/// Monotonic counters whose increase per interval is recorded, as `(section, name)`.
pub const DELTA_COUNTERS: [(&str, &str); 7] = [
    ("TcpExt", "ListenOverflows"),
    ("TcpExt", "ListenDrops"),
    ("TcpExt", "TCPSynRetrans"),
    ("TcpExt", "TCPTimeouts"),
    ("Tcp", "AttemptFails"),
    ("Tcp", "EstabResets"),
    ("Tcp", "RetransSegs"),
];

/// Errors reading counters.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A `/proc` file could not be read (the process may be gone).
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Parse the "header line / value line" pairs of `/proc/net/netstat` and `/proc/net/snmp`
/// into `section → name → value`. Negative values (`MaxConn -1`) are skipped.
pub fn parse_pairs(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [header, values] = pair else { continue };
        let (Some((h_sec, h_names)), Some((v_sec, v_vals))) =
            (header.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if h_sec != v_sec {
            continue;
        }
        let section = out.entry(h_sec.to_string()).or_default();
        for (name, value) in h_names.split_whitespace().zip(v_vals.split_whitespace()) {
            if let Ok(v) = value.parse::<u64>() {
                section.insert(name.to_string(), v);
            }
        }
    }
    out
}

/// TCP socket gauges from `/proc/net/sockstat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SockStat {
    /// TCP sockets in use.
    pub inuse: u64,
    /// Orphaned TCP sockets.
    pub orphan: u64,
    /// Sockets in TIME_WAIT.
    pub tw: u64,
}

/// Parse the `TCP:` line of `/proc/net/sockstat`.
pub fn parse_sockstat(text: &str) -> Option<SockStat> {
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let mut s = SockStat::default();
    for kv in words.chunks(2) {
        let [k, v] = kv else { continue };
        let Ok(v) = v.parse::<u64>() else { continue };
        match *k {
            "inuse" => s.inuse = v,
            "orphan" => s.orphan = v,
            "tw" => s.tw = v,
            _ => {}
        }
    }
    Some(s)
}

/// Parse `net.ipv4.ip_local_port_range` (`"32768\t60999"`).
pub fn parse_port_range(text: &str) -> Option<(u32, u32)> {
    let mut it = text.split_whitespace().map(|w| w.parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
        _ => None,
    }
}

/// One reading of the counters of a namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The [`DELTA_COUNTERS`] by name, plus `CurrEstab`.
    pub counters: BTreeMap<String, u64>,
    /// Socket gauges.
    pub sockstat: SockStat,
}

impl Reading {
    /// Build a reading from the text of `netstat`, `snmp` and `sockstat`.
    pub fn parse(netstat: &str, snmp: &str, sockstat: &str) -> Reading {
        let mut all = parse_pairs(netstat);
        for (k, v) in parse_pairs(snmp) {
            all.entry(k).or_default().extend(v);
        }
        let mut counters = BTreeMap::new();
        for (sec, name) in DELTA_COUNTERS.iter().chain([("Tcp", "CurrEstab")].iter()) {
            if let Some(v) = all.get(*sec).and_then(|s| s.get(*name)) {
                counters.insert(name.to_string(), *v);
            }
        }
        Reading {
            counters,
            sockstat: parse_sockstat(sockstat).unwrap_or_default(),
        }
    }

    /// The sample for the interval from `prev` to `self`. Counters that went backwards
    /// (a new namespace, a wrapped counter) count as zero.
    pub fn delta(
        &self,
        prev: &Reading,
        t_unix_ns: u64,
        interval_s: f64,
        port_range: Option<(u32, u32)>,
    ) -> KernelSample {
        let mut deltas = BTreeMap::new();
        for (_, name) in DELTA_COUNTERS {
            if let Some(now) = self.counters.get(name) {
                let before = prev.counters.get(name).copied().unwrap_or(*now);
                deltas.insert(name.to_string(), now.saturating_sub(before));
            }
        }
        let mut gauges = BTreeMap::new();
        if let Some(v) = self.counters.get("CurrEstab") {
            gauges.insert("CurrEstab".to_string(), *v);
        }
        gauges.insert("tcp_inuse".to_string(), self.sockstat.inuse);
        gauges.insert("tcp_tw".to_string(), self.sockstat.tw);
        gauges.insert("tcp_orphan".to_string(), self.sockstat.orphan);
        KernelSample {
            t_unix_ns,
            interval_s,
            deltas,
            gauges,
            port_range,
        }
    }
}

/// Reads the counters of the network namespace of one process, interval after interval.
#[derive(Debug)]
pub struct KernelReader {
    pid: u32,
    port_range: Option<(u32, u32)>,
    prev: Option<(Instant, Reading)>,
}

impl KernelReader {
    /// A reader for the namespace of `pid`. The port range is read once, now.
    pub fn new(pid: u32) -> Self {
        KernelReader {
            pid,
            port_range: port_range_of(pid),
            prev: None,
        }
    }

    /// The namespace's ephemeral port range, when it could be read.
    pub fn port_range(&self) -> Option<(u32, u32)> {
        self.port_range
    }

    /// Read the counters now.
    pub fn read(&self) -> Result<Reading, KernelError> {
        let read = |f: &str| {
            let path = format!("/proc/{}/net/{f}", self.pid);
            std::fs::read_to_string(&path).map_err(|source| KernelError::Read { path, source })
        };
        Ok(Reading::parse(
            &read("netstat")?,
            &read("snmp")?,
            &read("sockstat")?,
        ))
    }

    /// Read the counters and return the deltas since the previous call (`None` the first
    /// time, which only sets the baseline).
    pub fn sample(&mut self) -> Result<Option<KernelSample>, KernelError> {
        let now = Instant::now();
        let reading = self.read()?;
        let out = self.prev.as_ref().map(|(t, prev)| {
            reading.delta(
                prev,
                satlab_record::now_unix_ns(),
                now.duration_since(*t).as_secs_f64(),
                self.port_range,
            )
        });
        self.prev = Some((now, reading));
        Ok(out)
    }
}

/// `ip_local_port_range` as seen in the network namespace of `pid`.
///
/// `/proc/sys/net` shows the namespace of the *reader*, so when `pid` lives in another
/// namespace a short-lived thread joins it with `setns` (needs CAP_SYS_ADMIN) to read it.
pub fn port_range_of(pid: u32) -> Option<(u32, u32)> {
    const FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
    let ns = |p: &str| {
        std::fs::metadata(p)
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
    };
    let theirs = ns(&format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == ns("/proc/self/ns/net") {
        return std::fs::read_to_string(FILE)
            .ok()
            .and_then(|t| parse_port_range(&t));
    }
    let path = format!("/proc/{pid}/ns/net");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&path).ok()?;
        // SAFETY: setns on this thread only; the thread ends right after the read.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return None;
        }
        std::fs::read_to_string(FILE)
            .ok()
            .and_then(|t| parse_port_range(&t))
    })
    .join()
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn real_netstat_and_snmp_fixtures_have_every_counter() {
        let r = Reading::parse(
            &fixture("proc-net-netstat"),
            &fixture("proc-net-snmp"),
            &fixture("proc-net-sockstat"),
        );
        for (_, name) in DELTA_COUNTERS {
            assert!(r.counters.contains_key(name), "missing {name}: {r:?}");
        }
        assert!(r.counters.contains_key("CurrEstab"));
        // Values are taken from the right column: cross-check one by hand.
        let snmp = parse_pairs(&fixture("proc-net-snmp"));
        assert_eq!(
            r.counters["RetransSegs"], snmp["Tcp"]["RetransSegs"],
            "snmp Tcp section"
        );
        assert!(
            !snmp["Tcp"].contains_key("MaxConn"),
            "negative MaxConn skipped"
        );
    }

    #[test]
    fn pairs_are_matched_by_column() {
        let text = "TcpExt: A ListenOverflows B\nTcpExt: 1 42 3\nIpExt: X\nIpExt: 9\n";
        let p = parse_pairs(text);
        assert_eq!(p["TcpExt"]["ListenOverflows"], 42);
        assert_eq!(p["IpExt"]["X"], 9);
    }

    #[test]
    fn sockstat_fixture_and_synthetic() {
        let s = parse_sockstat(&fixture("proc-net-sockstat")).unwrap();
        assert!(s.inuse >= 1, "{s:?}");
        let s = parse_sockstat("sockets: used 9\nTCP: inuse 5 orphan 2 tw 301 alloc 7 mem 1\n")
            .unwrap();
        assert_eq!(
            s,
            SockStat {
                inuse: 5,
                orphan: 2,
                tw: 301
            }
        );
        assert_eq!(parse_sockstat("UDP: inuse 1\n"), None);
    }

    #[test]
    fn port_range_fixture() {
        let (lo, hi) = parse_port_range(&fixture("ip_local_port_range")).unwrap();
        assert!(lo < hi && hi <= 65535);
        assert_eq!(parse_port_range("40000 40099\n"), Some((40000, 40099)));
        assert_eq!(parse_port_range("9 1"), None);
        assert_eq!(parse_port_range("x"), None);
    }

    #[test]
    fn deltas_subtract_and_never_go_negative() {
        let netstat = |lo: u64| format!("TcpExt: ListenOverflows ListenDrops\nTcpExt: {lo} {lo}\n");
        let snmp = |e: u64| format!("Tcp: RetransSegs CurrEstab\nTcp: 10 {e}\n");
        let a = Reading::parse(&netstat(5), &snmp(3), "TCP: inuse 4 orphan 0 tw 7\n");
        let b = Reading::parse(&netstat(12), &snmp(9), "TCP: inuse 6 orphan 1 tw 100\n");
        let s = b.delta(&a, 1, 0.5, Some((1, 2)));
        assert_eq!(s.deltas["ListenOverflows"], 7);
        assert_eq!(s.deltas["RetransSegs"], 0);
        assert_eq!(s.gauges["CurrEstab"], 9);
        assert_eq!(s.gauges["tcp_tw"], 100);
        let back = a.delta(&b, 2, 0.5, None);
        assert_eq!(back.deltas["ListenOverflows"], 0);
    }

    #[test]
    fn reader_reads_own_namespace() {
        let mut r = KernelReader::new(std::process::id());
        assert!(r.port_range().is_some());
        assert!(r.sample().unwrap().is_none());
        let s = r.sample().unwrap().unwrap();
        assert!(s.interval_s >= 0.0);
        assert!(s.gauges.contains_key("tcp_inuse"));
        assert!(KernelReader::new(u32::MAX / 2).read().is_err());
    }
}
