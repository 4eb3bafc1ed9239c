//! Exit codes every satlab program uses, and the one path a command-line parse error takes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also `--help` and `--version`) |
//! | 1 | the run or command failed |
//! | 2 | bad command line (clap's convention) |
//! | 99 | a load threshold was crossed (k6's convention) |
//! | 130 | interrupted by SIGINT (128 + 2); SIGTERM gives 143 |
//!
//! Precedence when several apply: a failed run keeps 1, an interrupted run its signal's
//! code (its thresholds are still judged and recorded, marked as on a partial run), and
//! only a run that completed exits 99 for a failed threshold.

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// The run or command failed.
pub const FAILURE: u8 = 1;
/// The command line could not be parsed.
pub const USAGE: u8 = 2;
/// A threshold on the results was crossed.
pub const THRESHOLD: u8 = 99;
/// Interrupted by SIGINT.
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM.
pub const TERMINATED: u8 = 143;

/// Print a clap error the way clap does (help and version to stdout, errors to stderr)
/// and return its exit code: 0 for `--help`/`--version`, [`USAGE`] otherwise.
pub fn clap_error(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(USAGE)
    } else {
        ExitCode::from(OK)
    }
}

/// Parse `args` with clap, or return the exit code to leave with.
pub fn parse_or_exit<P: clap::Parser, I, T>(args: I) -> Result<P, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    P::try_parse_from(args).map_err(|e| clap_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(version)]
    struct T {
        #[arg(long)]
        n: u32,
    }

    #[test]
    fn help_is_success_and_errors_are_usage() {
        assert!(parse_or_exit::<T, _, _>(["t", "--n", "3"]).is_ok());
        assert_eq!(
            parse_or_exit::<T, _, _>(["t", "--n", "x"]).unwrap_err(),
            ExitCode::from(USAGE)
        );
        assert_eq!(
            parse_or_exit::<T, _, _>(["t", "--help"]).unwrap_err(),
            ExitCode::from(OK)
        );
    }
}
