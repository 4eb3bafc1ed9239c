//! The `target-api` binary: see `target-api --help`.
fn main() -> std::process::ExitCode {
    target_api::cli::run(std::env::args_os().collect())
}
