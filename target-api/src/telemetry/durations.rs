//! `http.server.request.duration` without an attribute set hashed per request: one
//! histogram handle bound per (route, method, status) on its first use
//! (`Histogram::bind`); a status outside [`BOUND_STATUSES`] is recorded unbound.

use crate::routes;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundHistogram, Histogram};
use std::sync::OnceLock;

/// Methods as reported (`http.request.method`; `_OTHER` for the rest).
pub const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "_OTHER",
];

/// Statuses with a bound handle: those target-api answers.
pub const BOUND_STATUSES: [u16; 13] = [
    200, 201, 204, 400, 404, 405, 408, 413, 415, 422, 429, 500, 503,
];

/// Route slots: each of [`routes::ALL`], then "no route".
const ROUTE_SLOTS: usize = routes::ALL.len() + 1;

/// Slots for a method on a route ([`attribute_slot`]).
pub(super) const ATTRIBUTE_SLOTS: usize = ROUTE_SLOTS * METHODS.len();

/// The slot of `method` (an index into [`METHODS`]) on `route` (an index into
/// [`routes::ALL`]), below [`ATTRIBUTE_SLOTS`].
pub(super) fn attribute_slot(route: Option<usize>, method: usize) -> usize {
    let route_slot = route
        .filter(|&r| r < routes::ALL.len())
        .unwrap_or(ROUTE_SLOTS - 1);
    route_slot * METHODS.len() + method.min(METHODS.len() - 1)
}

/// The index of `m` in [`METHODS`].
pub fn method_index(m: &http::Method) -> usize {
    use http::Method;
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::HEAD => 4,
        Method::OPTIONS => 5,
        Method::PATCH => 6,
        _ => 7,
    }
}

/// The request-duration histogram and its bound handles.
pub(super) struct RequestDurations {
    histogram: Histogram<f64>,
    bound: Box<[OnceLock<BoundHistogram<f64>>]>,
}

impl RequestDurations {
    pub(super) fn new(histogram: Histogram<f64>) -> Self {
        let n = ROUTE_SLOTS * METHODS.len() * BOUND_STATUSES.len();
        RequestDurations {
            histogram,
            bound: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Record `secs` for a request to `route` (an index into [`routes::ALL`]) with method
    /// `method` (an index into [`METHODS`]) answered with `status`.
    pub(super) fn record(&self, secs: f64, route: Option<usize>, method: usize, status: u16) {
        let method = method.min(METHODS.len() - 1);
        match BOUND_STATUSES.iter().position(|&s| s == status) {
            Some(s) => {
                let i = attribute_slot(route, method) * BOUND_STATUSES.len() + s;
                self.bound[i]
                    .get_or_init(|| self.histogram.bind(&attributes(route, method, status)))
                    .record(secs);
            }
            None => self
                .histogram
                .record(secs, &attributes(route, method, status)),
        }
    }
}

/// The attributes of one series, in the order they were always recorded.
fn attributes(route: Option<usize>, method: usize, status: u16) -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new("http.request.method", METHODS[method]),
        KeyValue::new("http.response.status_code", i64::from(status)),
        KeyValue::new("url.scheme", "http"),
    ];
    if let Some(r) = route.and_then(|r| routes::ALL.get(r)) {
        attrs.push(KeyValue::new("http.route", *r));
    }
    attrs
}
