//! IAM policy documents as resource policies use them (an SNS topic's access policy, a KMS key
//! policy): parsing, and the one decision orgwatch needs of them — may this service principal
//! call this action on this resource, in this request context?
//!
//! A policy is written by an account owner, so it is untrusted input. [`Policy::parse`] never
//! panics, refuses text longer than [`MAX_POLICY_LEN`], and reports every refusal with a line
//! and column: JSON syntax as serde_json finds it, and the structure IAM requires (an Effect of
//! `Allow` or `Deny`, a Principal or NotPrincipal, exactly one of Action and NotAction, at most
//! one of Resource and NotResource, a Condition of operators of keys; unknown elements and
//! repeated keys are refused too).
//!
//! [`Policy::decide`] follows IAM's documented evaluation logic for a resource policy and a
//! service principal. Each statement applies, does not apply, or cannot be judged: a condition
//! operator orgwatch does not implement (`Numeric…`, `Date…`, `IpAddress`, `Binary…`), a
//! condition key the request context does not describe, or a policy variable (`${…}`) in a
//! Resource, NotResource or condition value. A Deny that applies wins; one that cannot be judged
//! leaves the request undecidable when an Allow could apply; otherwise an Allow must apply.
//!
//! Judged: Principal and NotPrincipal (`"*"`, `{"AWS": "*"}` and `{"Service": …}` name a
//! service principal, nothing else does); Action and NotAction (`*` and `?`, ignoring case);
//! Resource and NotResource (`*` and `?`, case-sensitive); the `String…`, `Arn…`, `Bool` and
//! `Null` operators, each but `Null` with `…IfExists`, and the `ForAnyValue:` and
//! `ForAllValues:` prefixes.

mod eval;
mod glob;
mod parse;

use std::collections::BTreeMap;

use eval::Tri;

/// Longest policy accepted, in bytes. SNS caps a topic policy at 30 KiB and KMS a key policy
/// at 32 KiB; anything longer did not come from AWS.
pub const MAX_POLICY_LEN: usize = 64 * 1024;

/// Why a policy was refused, and where (1-based line and column, in characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement of a policy.
#[derive(Clone, Debug)]
pub struct Statement {
    /// Its position in the policy, 0-based.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// The statement as written.
    pub source: serde_json::Value,
}

impl Statement {
    /// How a person finds it in the policy: `statement "Sid"`, else `statement #N` (1-based).
    pub fn label(&self) -> String {
        label_for(self.index, self.sid.as_deref())
    }
}

fn label_for(index: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) if !sid.is_empty() => format!("statement {sid:?}"),
        _ => format!("statement #{}", index + 1),
    }
}

/// A parsed policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    text: String,
    statements: Vec<Statement>,
    rules: Vec<parse::Rule>,
}

impl Policy {
    /// Reads a policy document as IAM would accept it for a resource policy.
    pub fn parse(text: &str) -> Result<Policy, ParseError> {
        if text.len() > MAX_POLICY_LEN {
            let (line, column) = parse::position_of_byte(text, MAX_POLICY_LEN);
            let message = format!("the policy is {} bytes long; orgwatch reads at most {MAX_POLICY_LEN}", text.len());
            return Err(ParseError { line, column, message });
        }
        let (rules, written) = parse::parse(text)?;
        let statements = rules
            .iter()
            .zip(written)
            .enumerate()
            .map(|(index, (rule, source))| Statement { index, sid: rule.sid.clone(), effect: rule.effect, source })
            .collect();
        Ok(Policy { text: text.to_owned(), statements, rules })
    }

    /// The policy as written.
    pub fn source_text(&self) -> &str {
        &self.text
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    pub fn statement(&self, index: usize) -> Option<&Statement> {
        self.statements.get(index)
    }

    /// Whether any statement's condition names `key` (compared as IAM does, ignoring case).
    pub fn names_key(&self, key: &str) -> bool {
        self.rules.iter().flat_map(|rule| &rule.conditions).flat_map(|block| &block.keys).any(|(named, _)| named.eq_ignore_ascii_case(key))
    }

    /// Whether the policy lets `request` through. A false `Allowed` is the worst answer, so a
    /// Deny that cannot be judged makes the request undecidable whenever an Allow could apply.
    pub fn decide(&self, request: &AccessRequest<'_>) -> Decision {
        let judged: Vec<(Effect, Tri)> = self.rules.iter().map(|rule| (rule.effect, eval::applies(rule, request))).collect();
        let first = |effect: Effect, applies: fn(&Tri) -> bool| judged.iter().position(|(e, t)| *e == effect && applies(t));
        let unknown = |index: usize| match &judged[index].1 {
            Tri::Unknown(why) => Decision::Undecidable { statement: index, why: why.clone() },
            _ => Decision::NotAllowed,
        };
        if let Some(by) = first(Effect::Deny, |t| *t == Tri::True) {
            return Decision::Denied { by };
        }
        let allowed = first(Effect::Allow, |t| *t == Tri::True);
        let allow_unknown = first(Effect::Allow, |t| matches!(t, Tri::Unknown(_)));
        if allowed.is_none() && allow_unknown.is_none() {
            return Decision::NotAllowed;
        }
        if let Some(deny) = first(Effect::Deny, |t| matches!(t, Tri::Unknown(_))) {
            return unknown(deny);
        }
        match (allowed, allow_unknown) {
            (Some(by), _) => Decision::Allowed { by },
            (None, Some(index)) => unknown(index),
            (None, None) => Decision::NotAllowed,
        }
    }
}

/// The call to decide: a service principal calling an action on a resource.
#[derive(Clone, Copy, Debug)]
pub struct AccessRequest<'a> {
    /// The calling service principal, e.g. `cloudwatch.amazonaws.com`.
    pub service: &'a str,
    /// The action as IAM names it, e.g. `sns:Publish`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// What the request carries for each condition key orgwatch knows; a key not named here at
/// all is one orgwatch cannot judge.
#[derive(Clone, Debug, Default)]
pub struct Context {
    keys: BTreeMap<String, ContextValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    /// The request carries the key with these values (one for a single-valued key).
    Present(Vec<String>),
    /// The request does not carry the key.
    Absent,
    /// The request carries the key, but orgwatch does not know its value; why.
    Unknown(String),
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// The request carries `key` with `values`.
    pub fn with<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key: &str, values: I) -> Self {
        self.keys.insert(key.to_ascii_lowercase(), ContextValue::Present(values.into_iter().map(Into::into).collect()));
        self
    }

    /// The request does not carry `key`.
    pub fn absent(mut self, key: &str) -> Self {
        self.keys.insert(key.to_ascii_lowercase(), ContextValue::Absent);
        self
    }

    /// The request carries `key`, with a value orgwatch does not know (`why`).
    pub fn unknown(mut self, key: &str, why: impl Into<String>) -> Self {
        self.keys.insert(key.to_ascii_lowercase(), ContextValue::Unknown(why.into()));
        self
    }

    /// What the request carries for `key` (ignoring case); `None` for a key orgwatch does not know.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(&key.to_ascii_lowercase())
    }
}

/// The answer, following IAM's evaluation logic for a resource policy and a service principal:
/// an explicit Deny wins; otherwise an Allow must apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The statement at this index allows it, and no Deny applies.
    Allowed { by: usize },
    /// The statement at this index denies it.
    Denied { by: usize },
    /// No statement allows it (IAM's implicit deny).
    NotAllowed,
    /// What decides it cannot be judged: the statement, and why (an operator or a condition key
    /// orgwatch does not know, a policy variable, …).
    Undecidable { statement: usize, why: String },
}

#[cfg(test)]
mod tests;
