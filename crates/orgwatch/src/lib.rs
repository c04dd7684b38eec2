//! orgwatch's command line and composition root: configuration, the scan of an organization,
//! the daemon loop, output formats, health and metrics.
//!
//! Architecture invariant: this is the one place that reads the environment, builds the AWS
//! collector and the database pool and installs the tracing subscriber; the core, AWS and store
//! crates receive what they need as arguments.
#![forbid(unsafe_code)]

/// `print!` to standard output for a command's answer. A reader that went away (`orgwatch
/// findings | head`) ends the command quietly, as it ends other command-line tools, instead of
/// a panic; any other failure to write is an error that says so.
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

/// `println!` to standard output; see `out!`.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => { out!("{}\n", format_args!($($arg)*)) };
}

#[doc(hidden)]
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the answer to standard output: {e}");
        std::process::exit(1);
    }
}

pub mod cli;
pub mod config;
pub mod daemon;
pub mod export;
pub mod filter_check;
pub mod investigate;
pub mod fix;
pub mod metrics;
pub mod output;
pub mod plan_check;
pub mod report;
pub mod scan;
pub mod schedule;
pub mod shutdown;
pub mod telemetry;
pub mod tune;
