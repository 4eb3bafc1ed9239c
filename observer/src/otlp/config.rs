//! The receiver's settings: how large a request and how many at once.

/// Default largest accepted export request (also after decompression), bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Default number of export requests processed at once; more wait (gRPC) or get 503 (HTTP).
pub const DEFAULT_MAX_CONCURRENT: usize = 64;

/// Receiver settings.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverConfig {
    /// Largest request body, bytes, before and after decompression.
    pub max_message_bytes: usize,
    /// Requests processed at once, across both protocols.
    pub max_concurrent: usize,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        }
    }
}
