//! orgwatch's judging core: the CloudWatch Logs filter-pattern language ([`pattern`]), the CIS
//! monitoring controls as data ([`controls`]), whether a pattern detects a control
//! ([`detect`]), and the pure evaluation of the alarm chain ([`evaluate`]) from collected
//! [`facts`] to [`finding`]s.
//!
//! Architecture invariant: this crate does no I/O, knows no AWS SDK or database type, and its
//! evaluation cannot fail — every input, however hostile, yields a finding.
#![forbid(unsafe_code)]

pub mod controls;
pub mod detect;
pub mod evaluate;
pub mod facts;
pub mod finding;
pub mod pattern;

pub use controls::Control;
pub use evaluate::{Waiver, evaluate};
pub use facts::{AccountFacts, AccountId, Observed, OrgView, Unobserved, UnobservedKind};
pub use finding::{Evidence, EvidenceLink, Finding, LinkKind, Reason, Status};
