//! `--io`: which I/O driver runs the closed loop's HTTP/1.1 keep-alive workers.

use crate::client::ClientConfig;

/// The closed loop's I/O driver for HTTP/1.1 keep-alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoDriver {
    /// io_uring where the kernel offers it and the run is a closed loop over HTTP/1.1
    /// keep-alive; tokio otherwise.
    #[default]
    Auto,
    /// io_uring, or an error when it cannot be used.
    IoUring,
    /// tokio's readiness-based I/O, always.
    Tokio,
}

/// `--io` cannot be honoured.
#[derive(Debug, thiserror::Error)]
#[error("--io io-uring: {0}")]
pub struct IoDriverError(String);

impl IoDriver {
    /// Parse `--io`'s value.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(IoDriver::Auto),
            "io-uring" | "io_uring" | "uring" => Ok(IoDriver::IoUring),
            "tokio" | "epoll" => Ok(IoDriver::Tokio),
            _ => Err(format!(
                "'{s}' is not an I/O driver; use auto (io-uring where it can run, else tokio), io-uring or tokio"
            )),
        }
    }

    /// Whether a run (a closed loop or not) with this client runs on io_uring: an error
    /// when io-uring was asked for and cannot run.
    pub fn on_uring(self, closed_loop: bool, client: &ClientConfig) -> Result<bool, IoDriverError> {
        let fits = closed_loop && !client.http2 && !client.new_connection;
        match self {
            IoDriver::Tokio => Ok(false),
            IoDriver::Auto => Ok(fits && kernel_offers_uring().is_ok()),
            IoDriver::IoUring if !fits => Err(IoDriverError(
                "drives a closed loop (--stages) over HTTP/1.1 keep-alive only; drop --rate, --http2 and --new-connection, or use --io auto".into(),
            )),
            IoDriver::IoUring => kernel_offers_uring().map(|()| true),
        }
    }
}

#[cfg(target_os = "linux")]
fn kernel_offers_uring() -> Result<(), IoDriverError> {
    crate::uring::available().map_err(|e| {
        IoDriverError(format!(
            "the kernel refused the ring ({e}; needs Linux 6.1 and no seccomp filter against io_uring); use --io tokio"
        ))
    })
}

#[cfg(not(target_os = "linux"))]
fn kernel_offers_uring() -> Result<(), IoDriverError> {
    Err(IoDriverError(
        "io_uring is Linux only; use --io tokio".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn client(http2: bool, new_connection: bool) -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            new_connection,
            http2,
            h2_connections: 1,
        }
    }

    #[test]
    fn a_bad_value_names_the_accepted_ones() {
        let e = IoDriver::parse("iouring").unwrap_err();
        assert!(
            e.contains("'iouring'")
                && e.contains("auto")
                && e.contains("io-uring")
                && e.contains("tokio"),
            "{e}"
        );
        assert_eq!(IoDriver::parse("io-uring"), Ok(IoDriver::IoUring));
        assert_eq!(IoDriver::parse("tokio"), Ok(IoDriver::Tokio));
    }

    #[test]
    fn io_uring_is_refused_where_it_cannot_drive_the_run_and_auto_falls_back() {
        for (closed, h2, nc) in [
            (true, true, false),
            (true, false, true),
            (false, false, false),
        ] {
            let e = IoDriver::IoUring
                .on_uring(closed, &client(h2, nc))
                .unwrap_err();
            assert!(
                e.to_string().contains("--io io-uring") && e.to_string().contains("--io auto"),
                "{e}"
            );
            assert!(!IoDriver::Auto.on_uring(closed, &client(h2, nc)).unwrap());
        }
        assert!(
            !IoDriver::Tokio
                .on_uring(true, &client(false, false))
                .unwrap()
        );
    }
}
