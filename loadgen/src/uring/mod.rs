//! The closed loop's HTTP/1.1 keep-alive workers on io_uring (Linux).
//!
//! On the tokio path each request is a task wake, a readiness poll and three system
//! calls (the `recv` that finds a reused connection idle, the `send`, the `recv` of the
//! response). Here a thread drives its share of the workers' connections through one
//! ring: each `io_uring_enter` submits every send and read made due since the last one
//! and collects the completions, whose work the kernel defers to that call
//! (`IORING_SETUP_DEFER_TASKRUN`), so a busy client makes one kernel crossing per batch of
//! requests rather than three per request. The HTTP/1.1 exchange is the tokio path's
//! ([`crate::http1`]: the same template, parser and buffer), and so are the steps, the
//! recorder, the spans and the error kinds ([`crate::exec::begin`], [`crate::exec::finish`],
//! [`crate::classify`]).
//!
//! Used by default where the kernel offers it (`--io auto`); a kernel or a sandbox without
//! io_uring (a container's default seccomp profile refuses it) gets the tokio path.

mod driver;
mod ring;
mod slot;

pub use driver::spawn;
pub use ring::available;
