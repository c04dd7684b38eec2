//! Carries out the reads the core asks for, in every account of an AWS Organization, and turns
//! the answers into `orgwatch-core`'s facts.
//!
//! [`AwsReads`] is the narrow trait of every read orgwatch makes (DescribeOrganization,
//! ListAccounts, AssumeRole, the ten chain reads made with an audit role and ListParents, made
//! with orgwatch's own identity) with three implementations:
//! [`SdkReads`] (the official SDK), [`memory::MemoryOrg`] (an in-memory organization with AWS's
//! semantics and a record of every call) and [`faults::Faulty`] (failure injection around
//! either). [`carrier::Carrier`] carries one scan's requests out, each with its owner's audit
//! role, and an organization read (an account's path) with orgwatch's own identity.
//!
//! Architecture invariants: only this crate knows SDK types. It judges nothing and holds no
//! chain rule: it parses no filter pattern and decides nothing about what to read next. Every
//! audit call is a Describe, Get or List, plus `sts:AssumeRole` ([`AUDIT_OPERATIONS`]); an error
//! in one account becomes an [`Unobserved`](orgwatch_core::Unobserved) fact of that account,
//! never a panic or an abort of the scan. The one write, `sns:Publish` of a drift summary to the
//! operator's own topic with orgwatch's own identity, is [`SnsPublisher`], apart from the reads.
//! It knows no database.
#![forbid(unsafe_code)]

pub mod carrier;
mod errors;
pub mod faults;
pub mod memory;
pub mod pace;
mod publish;
mod reads;
mod sdk;
mod stats;

pub use errors::AwsError;
pub use publish::{PUBLISH_OPERATION, SnsPublisher};
pub use reads::{ALARM_HISTORY_PAGE, ALARM_HISTORY_PAGES, AUDIT_OPERATIONS, AccountsPage, AwsReads, ORG_PATH_DEPTH, OrgAccount, Organization};
pub use sdk::{SdkReads, SdkSession, SdkSettings};
pub use stats::{ApiStats, ServiceCounts};
