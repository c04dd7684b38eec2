//! The AlarmRule language of CloudWatch composite alarms: parsing, a canonical form, and the
//! one judgement orgwatch needs of a rule — does the composite go into ALARM whenever a given
//! child alarm does, whatever every other alarm is doing?
//!
//! A rule is written by an account owner, so it is untrusted input. [`AlarmRule::parse`] never
//! panics, refuses rules longer than CloudWatch's own cap ([`MAX_RULE_LEN`] characters), bounds
//! the nesting of parentheses and `NOT` ([`MAX_NESTING`]) so neither parsing nor judging can
//! overflow the stack, and reports every refusal with a 1-based column counted in characters.
//!
//! Read as CloudWatch documents it:
//! - `ALARM(x)`, `OK(x)`, `INSUFFICIENT_DATA(x)`: true when alarm `x` (a name or an ARN) is in
//!   that state. `x` is either quoted (`"cpu (high), prod"`: anything but `"`) or bare (no
//!   whitespace, parentheses, commas or quotes). Whitespace around `x` and before `(` is
//!   allowed. Names are compared exactly, as CloudWatch's are case-sensitive.
//! - `TRUE`, `FALSE`; `NOT`, `AND`, `OR`; parentheses.
//! - `AT_LEAST(M, STATE, (x1, x2, …))`, CloudWatch's threshold function: true when at least `M`
//!   of the listed alarms are in `STATE`, one of `ALARM`, `OK`, `INSUFFICIENT_DATA` or any of
//!   them after `NOT` (at least `M` are *not* in it). `M` is a count from 1 to the length of the
//!   list, or a percentage from `1%` to `100%` of the list's length, met when
//!   `100 × count ≥ M × length` ("at least" read literally: the count needed is rounded up;
//!   the documentation orgwatch could read does not say how CloudWatch rounds). Each entry of
//!   the list counts once; a list naming one alarm twice, or two of the alarms supposed in
//!   ALARM (which may be one alarm by name and ARN), leaves the implication undecidable.
//!
//! Refused rather than guessed, because CloudWatch's documentation does not settle them:
//! keywords in any case but upper case (`and`, `Alarm`), and a backslash anywhere in an alarm
//! name (whether `\"` escapes a quote is not documented). The documentation does not give the
//! precedence of `AND` over `OR` either: a rule is parsed with `NOT` binding tightest, then
//! `AND`, then `OR`, and [`AlarmRule::relies_on_precedence`] says whether it mixes `AND` and
//! `OR` without parentheses; for such a rule [`AlarmRule::implied_by`] answers only what holds
//! under each of the three plausible groupings (`AND` first, `OR` first, left to right), and is
//! [`Implication::Undecidable`] where they differ.
//!
//! Not judged: whether the named alarms exist, CloudWatch's caps of 100 child alarms and 500
//! elements per rule, cycles between composite alarms, actions suppression, and how any child
//! reaches its state — the rule is judged as a function of its children's states only.

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use parse::{Node, Threshold};

/// CloudWatch refuses an AlarmRule longer than this many characters.
pub const MAX_RULE_LEN: usize = 10240;

/// Deepest nesting of parentheses and `NOT` accepted (`NOT NOT x` nests two deep). CloudWatch
/// publishes no limit; this one keeps recursion shallow on hostile input and is far beyond
/// anything a person writes.
pub const MAX_NESTING: usize = 32;

/// Most steps [`AlarmRule::implied_by`] spends searching the states of the other alarms (one
/// step is one node of the rule looked at under one partial assignment) before it gives up with
/// [`Implication::Undecidable`]. Realistic rules take a few hundred.
pub const WORK_BUDGET: usize = 5_000_000;

/// Why a rule was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ParseError {
    /// 1-based column, counted in characters, of the place the parser stopped at.
    pub column: usize,
    /// What was expected or found, in a user's words.
    pub message: String,
}

/// The state of an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Alarm,
    Ok,
    InsufficientData,
}

impl State {
    /// Every state, in CloudWatch's order.
    pub const ALL: [State; 3] = [State::Alarm, State::Ok, State::InsufficientData];

    /// The state as CloudWatch writes it: `ALARM`, `OK`, `INSUFFICIENT_DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Alarm => "ALARM",
            State::Ok => "OK",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alarm reference of a rule (a name or an ARN, as written) stands for, in
/// [`AlarmRule::implied_by`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    /// An alarm supposed to be in ALARM.
    InAlarm,
    /// Any other alarm, by an identity of the caller's choosing: references with the same
    /// identity (a name and its ARN) are one alarm.
    Other(String),
}

/// Whether a rule holds whenever some alarms are in ALARM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Implication {
    /// True in every state of the other alarms.
    Always,
    /// There is a state of the other alarms in which the rule is false: one such assignment
    /// (alarm as written, its state), for the evidence ("the composite stays OK while other is
    /// OK"). Other alarms not listed may be in any state; the list is empty when the rule is
    /// false whatever they do.
    NotAlways { counterexample: Vec<(String, State)> },
    /// The check gave up or the answer is not settled by CloudWatch's documentation (too many
    /// alarms to search within [`WORK_BUDGET`], an answer that depends on how `AND` and `OR`
    /// group, one alarm listed twice in `AT_LEAST`); never a guess.
    Undecidable { why: String },
}

/// A parsed AlarmRule.
#[derive(Clone, Debug)]
pub struct AlarmRule {
    /// Every alarm reference as written, in order of first appearance, each once.
    alarms: Vec<String>,
    root: Node,
    relies_on_precedence: bool,
}

impl AlarmRule {
    /// Reads a rule as CloudWatch would accept it (see the module documentation for what is
    /// refused).
    pub fn parse(text: &str) -> Result<AlarmRule, ParseError> {
        let parsed = parse::parse(text)?;
        Ok(AlarmRule { alarms: parsed.alarms, root: parsed.root, relies_on_precedence: parsed.relies_on_precedence })
    }

    /// Every alarm the rule names (as written: name or ARN), in order of first appearance,
    /// deduplicated.
    pub fn alarms(&self) -> Vec<&str> {
        self.alarms.iter().map(String::as_str).collect()
    }

    /// Whether the rule mixes `AND` and `OR` without parentheses, so that its meaning depends
    /// on a precedence CloudWatch does not document.
    pub fn relies_on_precedence(&self) -> bool {
        self.relies_on_precedence
    }

    /// Whether the rule is true whenever the alarms `identity` maps to `Ref::InAlarm` are in
    /// ALARM, whatever the state of every other alarm. Each other reference maps to
    /// `Ref::Other(id)`; references with the same id are the same alarm (a name and its ARN),
    /// each in exactly one of the three states at a time.
    ///
    /// Exact: the in-ALARM references are replaced by their truth, then the states of the
    /// other alarms are searched, three values each (two when the rule cannot tell the other
    /// two apart), folding constants at every step and stopping at the first state that makes
    /// the rule false, within [`WORK_BUDGET`].
    pub fn implied_by(&self, identity: &dyn Fn(&str) -> Ref) -> Implication {
        eval::implied_by(&self.root, &self.alarms, self.relies_on_precedence, identity)
    }
}

/// The canonical form: single spaces around operators, every alarm quoted, parentheses where
/// the rule has them. It parses back to the same rule.
impl fmt::Display for AlarmRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(&self.root, &self.alarms, f)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(m) => write!(f, "{m}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

fn write_node(node: &Node, alarms: &[String], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let name = |index: usize| alarms.get(index).map_or("", String::as_str);
    match node {
        Node::Const(true) => f.write_str("TRUE"),
        Node::Const(false) => f.write_str("FALSE"),
        Node::Is { state, alarm } => write!(f, "{state}(\"{}\")", name(*alarm)),
        Node::AtLeast { threshold, negated, state, alarms: listed } => {
            write!(f, "AT_LEAST({threshold}, {}{state}, (", if *negated { "NOT " } else { "" })?;
            for (i, alarm) in listed.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "\"{}\"", name(*alarm))?;
            }
            f.write_str("))")
        }
        Node::Not(operand) => {
            f.write_str("NOT ")?;
            write_node(operand, alarms, f)
        }
        Node::Group(inner) => {
            f.write_str("(")?;
            write_node(inner, alarms, f)?;
            f.write_str(")")
        }
        Node::Chain(first, rest) => {
            write_node(first, alarms, f)?;
            for (op, operand) in rest {
                f.write_str(op.spaced())?;
                write_node(operand, alarms, f)?;
            }
            Ok(())
        }
    }
}
