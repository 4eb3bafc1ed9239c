//! The `observer` binary: see `observer --help`.
fn main() -> std::process::ExitCode {
    observer::cli::run(std::env::args_os().collect())
}
