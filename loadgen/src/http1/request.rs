//! The preformatted HTTP/1.1 request: every byte is fixed for the run except the 55 of the
//! `traceparent` value, which are rewritten in place before each send.

use crate::trace::{TRACEPARENT_LEN, TraceContext};
use http::Method;
use http::header::{CONTENT_LENGTH, HeaderMap};

/// One request's bytes: request line, headers, `traceparent` and body in one buffer, so
/// a send is one `write_all`.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    bytes: Vec<u8>,
    /// Where the `traceparent` value starts.
    trace_at: usize,
    head: bool,
}

impl RequestTemplate {
    /// Format `method path`, the `headers` (which carry `host` and `content-type`), a
    /// computed `content-length` (for a body, or an empty body of a method that expects
    /// one; a `content-length` among `headers` is ignored), `traceparent` and the body.
    /// A `traceparent` among `headers` is replaced by the per-request one.
    pub fn new(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut b = Vec::with_capacity(256 + body.len());
        b.extend_from_slice(method.as_str().as_bytes());
        b.push(b' ');
        b.extend_from_slice(path.as_bytes());
        b.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            if name == CONTENT_LENGTH || name.as_str() == "traceparent" {
                continue;
            }
            b.extend_from_slice(name.as_str().as_bytes());
            b.extend_from_slice(b": ");
            b.extend_from_slice(value.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if !body.is_empty() || expects_body {
            b.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        b.extend_from_slice(b"traceparent: ");
        let trace_at = b.len();
        b.extend_from_slice(&[b'0'; TRACEPARENT_LEN]);
        b.extend_from_slice(b"\r\n\r\n");
        b.extend_from_slice(body);
        RequestTemplate {
            bytes: b,
            trace_at,
            head: method == Method::HEAD,
        }
    }

    /// Rewrite the `traceparent` value for this request and return the bytes to send.
    pub fn with_trace(&mut self, tc: &TraceContext) -> &[u8] {
        let slot: &mut [u8; TRACEPARENT_LEN] = (&mut self.bytes
            [self.trace_at..self.trace_at + TRACEPARENT_LEN])
            .try_into()
            .expect("the template reserves the traceparent's length");
        tc.write_traceparent(slot);
        &self.bytes
    }

    /// The bytes as last written.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A `HEAD` request: its response has no body whatever its headers say.
    pub fn is_head(&self) -> bool {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ctx(trace_id: u128, span_id: u64, sampled: bool) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            sampled,
        }
    }

    #[test]
    fn get_with_headers_and_only_the_traceparent_rewritten() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        h.insert("x-api-key", HeaderValue::from_static("123"));
        h.insert("traceparent", HeaderValue::from_static("user-given"));
        h.insert("content-length", HeaderValue::from_static("99"));
        let mut t = RequestTemplate::new(&Method::GET, "/a?b=1", &h, b"");
        let first = t.with_trace(&ctx(1, 2, true)).to_vec();
        assert_eq!(
            std::str::from_utf8(&first).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-api-key: 123\r\n\
             traceparent: 00-00000000000000000000000000000001-0000000000000002-01\r\n\r\n"
        );
        let second = t.with_trace(&ctx(u128::MAX, u64::MAX, false)).to_vec();
        assert_eq!(first.len(), second.len());
        let diff: Vec<usize> = (0..first.len())
            .filter(|&i| first[i] != second[i])
            .collect();
        let at = first.len() - 4 - TRACEPARENT_LEN;
        assert!(
            diff.iter()
                .all(|&i| (at..at + TRACEPARENT_LEN).contains(&i))
        );
        assert!(!t.is_head());
    }

    #[test]
    fn body_gets_its_length_and_empty_post_a_zero_length() {
        let h = HeaderMap::new();
        let mut t = RequestTemplate::new(&Method::POST, "/p", &h, b"{\"a\":1}");
        let s = String::from_utf8(t.with_trace(&ctx(1, 1, false)).to_vec()).unwrap();
        assert!(s.starts_with("POST /p HTTP/1.1\r\ncontent-length: 7\r\ntraceparent: 00-"));
        assert!(s.ends_with("-00\r\n\r\n{\"a\":1}"));
        let t = RequestTemplate::new(&Method::POST, "/p", &h, b"");
        assert!(String::from_utf8_lossy(t.bytes()).contains("content-length: 0\r\n"));
        let t = RequestTemplate::new(&Method::HEAD, "/", &h, b"");
        assert!(!String::from_utf8_lossy(t.bytes()).contains("content-length"));
        assert!(t.is_head());
    }
}
