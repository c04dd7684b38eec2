//! The `orgwatch` binary: a thin shell around [`orgwatch::cli::run`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    orgwatch::cli::run()
}
