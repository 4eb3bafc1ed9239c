//! The instruments our programs create: OTel name, kind and unit, from the names in
//! `satlab_record::telemetry`. The kind and unit decide the Prometheus name, so a
//! change in an emitter's instrument must be mirrored here (the dashboard test then
//! tells which panels break).

use crate::prom_names::MetricKind;
use satlab_record::telemetry as t;

/// One instrument as created by an emitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    /// OTel metric name.
    pub name: &'static str,
    /// Instrument kind.
    pub kind: MetricKind,
    /// UCUM unit as set on the instrument.
    pub unit: &'static str,
}

/// Every instrument target-api and loadgen create.
pub const INSTRUMENTS: &[Instrument] = &[
    Instrument {
        name: t::HTTP_SERVER_REQUEST_DURATION,
        kind: MetricKind::Histogram,
        unit: "s",
    },
    Instrument {
        name: t::HTTP_SERVER_ACTIVE_REQUESTS,
        kind: MetricKind::UpDownCounter,
        unit: "{request}",
    },
    Instrument {
        name: t::HTTP_CLIENT_REQUEST_DURATION,
        kind: MetricKind::Histogram,
        unit: "s",
    },
    Instrument {
        name: t::PROCESS_CPU_UTILIZATION,
        kind: MetricKind::Gauge,
        unit: "1",
    },
    Instrument {
        name: t::POOL_WAIT_DURATION,
        kind: MetricKind::Histogram,
        unit: "s",
    },
    Instrument {
        name: t::EVENT_DURATION,
        kind: MetricKind::Histogram,
        unit: "s",
    },
    Instrument {
        name: t::SHED_REQUESTS,
        kind: MetricKind::Counter,
        unit: "{request}",
    },
    Instrument {
        name: t::TELEMETRY_DROPPED,
        kind: MetricKind::Counter,
        unit: "{item}",
    },
];

/// The instrument called `name`, if it is one of ours.
pub fn find(name: &str) -> Option<&'static Instrument> {
    INSTRUMENTS.iter().find(|i| i.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = INSTRUMENTS.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INSTRUMENTS.len());
    }

    #[test]
    fn durations_are_seconds_histograms() {
        for i in INSTRUMENTS.iter().filter(|i| i.name.ends_with(".duration")) {
            assert_eq!((i.kind, i.unit), (MetricKind::Histogram, "s"), "{}", i.name);
        }
    }
}
