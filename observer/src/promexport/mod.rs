//! `/metrics` for Prometheus and Grafana: the observer's metrics are gathered once into one
//! model ([`model`], filled by [`families`]) and rendered in the format the scraper asks
//! for: the Prometheus text format 0.0.4 ([`text`]) or OpenMetrics 1.0.0
//! ([`openmetrics`]), the one that carries the span-latency exemplars.

pub mod families;
pub mod model;
pub mod openmetrics;
pub mod text;

pub use families::{RunVerdict, families};
pub use model::Family;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (no exemplars).
    Prometheus,
    /// OpenMetrics 1.0.0, with exemplars on histogram buckets.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, else the Prometheus text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Prometheus,
        }
    }

    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => text::CONTENT_TYPE,
            Format::OpenMetrics => openmetrics::CONTENT_TYPE,
        }
    }

    /// Render the families in this format.
    pub fn render(self, families: &[Family]) -> String {
        match self {
            Format::Prometheus => text::render(families),
            Format::OpenMetrics => openmetrics::render(families),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_picks_the_format() {
        // What Prometheus 2.x and 3.x send.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
        for other in [
            None,
            Some("text/plain"),
            Some("*/*"),
            Some("application/json"),
        ] {
            assert_eq!(Format::from_accept(other), Format::Prometheus, "{other:?}");
        }
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Prometheus.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
