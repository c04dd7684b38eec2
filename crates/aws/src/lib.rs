//! Collects the facts of an AWS Organization's accounts with the official SDK, read-only, and
//! turns SDK types into `orgwatch-core`'s facts.
//!
//! Architecture invariants: only this crate knows SDK types; it never calls a mutating API
//! (every call is a Describe, Get or List, plus `sts:AssumeRole`); an error in one account
//! becomes an [`Unobserved`](orgwatch_core::Unobserved) fact of that account, never a panic or
//! an abort of the scan. It does not evaluate findings and knows no database.
#![forbid(unsafe_code)]

mod collect;
mod errors;
mod stats;

pub use collect::{Collector, CollectorSettings, OrgAccount, Organization, timed_out};
pub use errors::AwsError;
pub use stats::{ApiStats, ServiceCounts};
