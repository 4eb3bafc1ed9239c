fn main() -> std::process::ExitCode {
    loadgen::cli::run(std::env::args_os().collect())
}
