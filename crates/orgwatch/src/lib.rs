//! orgwatch's command line and composition root: configuration, the scan of an organization,
//! the daemon loop, output formats, health and metrics.
//!
//! Architecture invariant: this is the one place that reads the environment, builds the AWS
//! collector and the database pool and installs the tracing subscriber; the core, AWS and store
//! crates receive what they need as arguments.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod export;
pub mod filter_check;
pub mod metrics;
pub mod fix;
pub mod output;
pub mod plan_check;
pub mod scan;
pub mod schedule;
pub mod shutdown;
pub mod telemetry;
