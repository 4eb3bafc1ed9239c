//! The target's attributes for the HTTP client conventions, computed once per run from
//! the URL: `server.address`, `server.port` (the URL's port or the scheme's default),
//! `url.scheme` and `url.full`. Values are reference-counted, so the per-span and
//! per-class copies allocate no string.

use opentelemetry::KeyValue;
use std::sync::Arc;

/// The request's fixed attributes.
#[derive(Debug, Clone)]
pub struct TargetAttrs {
    /// Span name and `http.request.method` of spans (the method, or `HTTP`).
    pub name: &'static str,
    url_full: Arc<str>,
    scheme: Option<Arc<str>>,
    address: Option<Arc<str>>,
    port: Option<i64>,
}

/// The port a scheme implies when the URL names none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl TargetAttrs {
    /// The attributes of requests `method url`; parts the URL lacks are left out.
    pub fn new(name: &'static str, url: &str) -> TargetAttrs {
        let uri: Option<http::Uri> = url.parse().ok();
        let scheme = uri.as_ref().and_then(|u| u.scheme_str());
        let authority = uri.as_ref().and_then(|u| u.authority());
        let host = authority.map(|a| a.host().trim_start_matches('[').trim_end_matches(']'));
        let port = authority
            .and_then(|a| a.port_u16())
            .or_else(|| scheme.and_then(default_port));
        TargetAttrs {
            name,
            url_full: url.into(),
            scheme: scheme.map(Into::into),
            address: host.filter(|h| !h.is_empty()).map(Into::into),
            port: port.map(i64::from),
        }
    }

    /// `server.address` and `server.port`, when the URL gives them.
    fn server(&self, attrs: &mut Vec<KeyValue>) {
        if let Some(a) = &self.address {
            attrs.push(KeyValue::new("server.address", a.clone()));
        }
        if let Some(p) = self.port {
            attrs.push(KeyValue::new("server.port", p));
        }
    }

    /// A client span's fixed attributes: method, `url.full`, `url.scheme` and the server.
    pub fn span_attributes(&self) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(10);
        attrs.push(KeyValue::new("http.request.method", self.name));
        attrs.push(KeyValue::new("url.full", self.url_full.clone()));
        if let Some(s) = &self.scheme {
            attrs.push(KeyValue::new("url.scheme", s.clone()));
        }
        self.server(&mut attrs);
        attrs
    }

    /// The duration metric's fixed attributes: method (`_OTHER` for methods the
    /// conventions do not know) and the server.
    pub fn metric_attributes(&self) -> Vec<KeyValue> {
        let method = if self.name == "HTTP" {
            "_OTHER"
        } else {
            self.name
        };
        let mut attrs = Vec::with_capacity(7);
        attrs.push(KeyValue::new("http.request.method", method));
        self.server(&mut attrs);
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(kv: &[KeyValue]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|k| (k.key.to_string(), k.value.to_string()))
            .collect()
    }

    #[test]
    fn an_explicit_port_and_a_default_one() {
        let t = TargetAttrs::new("POST", "http://127.0.0.1:18080/x");
        let s = map(&t.span_attributes());
        assert_eq!(s["server.address"], "127.0.0.1");
        assert_eq!(s["server.port"], "18080");
        assert_eq!(s["url.scheme"], "http");
        assert_eq!(s["url.full"], "http://127.0.0.1:18080/x");
        assert_eq!(s["http.request.method"], "POST");
        let m = map(&t.metric_attributes());
        assert_eq!(m["server.address"], "127.0.0.1");
        assert_eq!(m["server.port"], "18080");
        assert!(!m.contains_key("url.full"), "{m:?}");

        let d = map(&TargetAttrs::new("GET", "http://target-api/api/vector/add").span_attributes());
        assert_eq!(d["server.address"], "target-api");
        assert_eq!(d["server.port"], "80");
        let tls = map(&TargetAttrs::new("GET", "https://example.test/").metric_attributes());
        assert_eq!(tls["server.port"], "443");
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets_and_unknown_methods_are_other() {
        let t = TargetAttrs::new("HTTP", "http://[::1]:8080/");
        let m = map(&t.metric_attributes());
        assert_eq!(m["server.address"], "::1");
        assert_eq!(m["http.request.method"], "_OTHER");
        assert_eq!(map(&t.span_attributes())["http.request.method"], "HTTP");
    }

    #[test]
    fn a_url_without_parts_leaves_them_out() {
        let s = map(&TargetAttrs::new("GET", "/relative").span_attributes());
        assert!(!s.contains_key("server.address") && !s.contains_key("server.port"));
        assert!(!s.contains_key("url.scheme"));
    }
}
