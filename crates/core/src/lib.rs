//! orgwatch's judging core: the CloudWatch Logs filter-pattern language ([`pattern`]), the CIS
//! monitoring controls as data ([`controls`]), whether a pattern detects a control
//! ([`detect`]), and the demand-driven evaluation of the alarm chain ([`evaluate`]): from the
//! [`facts`] known so far to either [`finding`]s or the next [`request`]s to make.
//!
//! Architecture invariant: this crate does no I/O, knows no AWS SDK or database type, and its
//! evaluation cannot fail — every input, however hostile, yields a finding or a request.
#![forbid(unsafe_code)]

pub mod alarm_rule;
mod chain;
pub mod controls;
pub mod detect;
pub mod evaluate;
pub mod facts;
pub mod finding;
pub mod insights;
pub mod pattern;
pub mod metric_math;
pub mod policy;
pub mod remediate;
pub mod request;
pub mod selection;

pub use controls::Control;
pub use evaluate::{Audit, Need, Scope, Step, Waiver, evaluate};
pub use facts::{AccountId, Observed, Unobserved, UnobservedKind};
pub use finding::{Evidence, EvidenceLink, Finding, LinkKind, Reason, Status, UnseenRead, WorkingTopic};
pub use request::{Answer, Facts, Request};

/// An error and its causes on one line, each cause once: `a: b: c`. A cause whose text the line
/// already holds (many libraries repeat their source in their own message) is left out.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let inner = Layer("(code: 14) unable to open database file", None);
        let repeating = Layer("error returned from database: (code: 14) unable to open database file", Some(Box::new(inner)));
        let outer = Layer("cannot open the database /x.db", Some(Box::new(repeating)));
        assert_eq!(super::error_chain(&outer), "cannot open the database /x.db: error returned from database: (code: 14) unable to open database file");
    }
}
