//! orgwatch's judging core: the CloudWatch Logs filter-pattern language ([`pattern`]), the CIS
//! monitoring controls as data ([`controls`]), whether a pattern detects a control
//! ([`detect`]), and the demand-driven evaluation of the alarm chain ([`evaluate`]): from the
//! [`facts`] known so far to either [`finding`]s or the next [`request`]s to make.
//!
//! Architecture invariant: this crate does no I/O, knows no AWS SDK or database type, and its
//! evaluation cannot fail — every input, however hostile, yields a finding or a request.
#![forbid(unsafe_code)]

pub mod controls;
pub mod detect;
pub mod evaluate;
pub mod facts;
pub mod finding;
pub mod pattern;
pub mod request;

pub use controls::Control;
pub use evaluate::{Audit, Need, Scope, Step, Waiver, evaluate};
pub use facts::{AccountId, Observed, Unobserved, UnobservedKind};
pub use finding::{Evidence, EvidenceLink, Finding, LinkKind, Reason, Status};
pub use request::{Answer, Facts, Request};
