//! A lean HTTP/1.1 client exchange: a preformatted request with only its `traceparent`
//! rewritten per request ([`request`]), an incremental parser that reads the status line
//! and framing and skips the rest ([`response`]), and one request/response over a
//! connection with a reusable buffer ([`exchange`]). No allocation per request on a
//! kept-alive connection.

pub mod exchange;
pub mod line;
pub mod request;
pub mod response;
