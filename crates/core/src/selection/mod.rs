//! The selection-criteria language of a CloudWatch Logs metric filter's
//! `fieldSelectionCriteria`: parsing, a canonical form, and the one judgement orgwatch needs of
//! it — does the filter process the events of a given source account and region?
//!
//! Criteria are written by an account owner, so they are untrusted input. [`Criteria::parse`]
//! never panics, refuses criteria longer than CloudWatch's own cap ([`MAX_CRITERIA_LEN`]
//! characters), bounds the nesting of parentheses ([`MAX_NESTING`]) so neither parsing nor
//! judging can overflow the stack, and reports every refusal with a 1-based column counted in
//! characters.
//!
//! What CloudWatch documents (the PutMetricFilter reference): a filter expression over system
//! fields such as the source account and region, "with operators like =, !=, AND, OR, IN, NOT
//! IN", for example `@aws.region = "us-east-1"` and `@aws.account IN ["123456789012",
//! "987654321098"]`; the same syntax in PutAccountPolicy's `selectionCriteria` shows
//! `LogGroupName NOT IN ["LogGroupToExclude1", "LogGroupToExclude2"]`. Read as that:
//! - A condition is a field, an operator and its operand: `field = "v"`, `field != "v"`,
//!   `field IN ["a", "b", …]`, `field NOT IN [ … ]`. A field is `@` and a dotted name
//!   (`@aws.account`) or a bare dotted name (`LogGroupName`); names are compared exactly.
//!   Values are double-quoted, lists are square-bracketed and comma-separated, and whitespace
//!   between the parts is free.
//! - Conditions join with `AND` and `OR`; parentheses group them (CloudWatch documents none, but
//!   if it accepts them they can mean nothing but grouping).
//! - Comparisons are exact, case-sensitive string equality: the documentation names no other.
//!
//! Refused rather than guessed, because the documentation does not settle them: keywords in any
//! case but upper case (`and`, `In`; the reference's own example joins its two examples with a
//! lower-case "or", read here as prose), single-quoted values and parenthesised lists (the
//! syntax of Observability Access Manager filters, documented for a different field), `LIKE`,
//! `==`, `<` and every other operator, `NOT` anywhere but in `NOT IN`, a backslash in a value
//! (no escapes are documented), and an empty list (`IN []`: the documentation writes `[]` only
//! as a placeholder). The empty string is refused too: an empty `fieldSelectionCriteria` means
//! that the filter has no criteria, which the caller handles before parsing. The precedence of
//! `AND` over `OR` is not documented either: criteria are shown as written, and
//! [`Criteria::relies_on_precedence`] says whether they mix `AND` and `OR` without parentheses;
//! for such criteria [`Criteria::selects`] answers only what holds under each of the three
//! plausible groupings (`AND` first, `OR` first, left to right), and is
//! [`Selected::Undecidable`] where they differ.
//!
//! Not judged: whether CloudWatch accepts a field other than `@aws.account` and `@aws.region`
//! (any other field parses, and is judged through the caller's lookup, which normally does not
//! know it), what the filter pattern of the metric filter matches, and where events come from:
//! the criteria are judged as a function of the system fields of one event only.

#![forbid(unsafe_code)]

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use parse::{Cmp, Node};

/// CloudWatch refuses a `fieldSelectionCriteria` longer than this many characters.
pub const MAX_CRITERIA_LEN: usize = 2000;

/// Deepest nesting of parentheses accepted. CloudWatch publishes no limit (nor documents
/// parentheses); this one keeps recursion shallow on hostile input and is far beyond anything a
/// person writes.
pub const MAX_NESTING: usize = 32;

/// Most steps [`Criteria::selects`] spends trying the possible values of the fields it is not
/// told (one step is one node of the criteria evaluated under one combination of values and one
/// grouping of `AND` and `OR`) before it settles for [`Selected::Undecidable`]. Criteria over the
/// two system fields take a handful.
pub const WORK_BUDGET: usize = 1_000_000;

/// Why criteria were refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ParseError {
    /// 1-based column, counted in characters, of the place the parser stopped at.
    pub column: usize,
    /// What was expected or found, in a user's words.
    pub message: String,
}

/// Whether the criteria select an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected {
    /// The event is processed by the filter.
    Yes,
    /// The event is not processed by the filter.
    No,
    /// The answer depends on something orgwatch does not know: the value of a field the lookup
    /// did not give (named), or how `AND` and `OR` group without parentheses. Never a guess.
    Undecidable(String),
}

/// Parsed selection criteria.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criteria {
    /// Every field as written, in order of first appearance, each once.
    fields: Vec<String>,
    root: Node,
    relies_on_precedence: bool,
}

impl Criteria {
    /// Reads criteria as CloudWatch documents them (see the module documentation for what is
    /// refused).
    pub fn parse(text: &str) -> Result<Criteria, ParseError> {
        let parsed = parse::parse(text)?;
        Ok(Criteria { fields: parsed.fields, root: parsed.root, relies_on_precedence: parsed.relies_on_precedence })
    }

    /// Every field the criteria compare (as written, with its `@` if it has one), in order of
    /// first appearance, deduplicated.
    pub fn fields(&self) -> Vec<&str> {
        self.fields.iter().map(String::as_str).collect()
    }

    /// Whether the criteria mix `AND` and `OR` without parentheses, so that their meaning
    /// depends on a precedence CloudWatch does not document.
    pub fn relies_on_precedence(&self) -> bool {
        self.relies_on_precedence
    }

    /// Whether an event with these system fields is selected. `fields(name)` gives a field's
    /// value (None: orgwatch does not know it, e.g. a field other than `@aws.account` and
    /// `@aws.region`); it is asked once for each field of [`Criteria::fields`].
    ///
    /// Exact: a field the lookup does not give may hold any string or be missing from the
    /// event, and the answer is Yes or No only if it is the same for every one of them (every
    /// string the criteria compare the field with, one string they do not, and missing — under
    /// which `=` and `IN` are false and `!=` and `NOT IN` are undecided, as CloudWatch does not
    /// say how a missing field compares) and under every grouping of `AND` and `OR` the
    /// criteria leave open, within [`WORK_BUDGET`].
    pub fn selects(&self, fields: &dyn Fn(&str) -> Option<String>) -> Selected {
        eval::selects(&self.root, &self.fields, self.relies_on_precedence, fields)
    }
}

/// The canonical form: single spaces around operators and after commas, parentheses where the
/// criteria have them. It parses back to equal criteria.
impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(&self.root, &self.fields, f)
    }
}

fn write_node(node: &Node, fields: &[String], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match node {
        Node::Cmp { field, cmp, values } => {
            f.write_str(fields.get(*field).map_or("", String::as_str))?;
            f.write_str(cmp.spaced())?;
            match cmp {
                Cmp::Eq | Cmp::Ne => write!(f, "\"{}\"", values.first().map_or("", String::as_str)),
                Cmp::In | Cmp::NotIn => {
                    f.write_str("[")?;
                    for (i, value) in values.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "\"{value}\"")?;
                    }
                    f.write_str("]")
                }
            }
        }
        Node::Group(inner) => {
            f.write_str("(")?;
            write_node(inner, fields, f)?;
            f.write_str(")")
        }
        Node::Chain(first, rest) => {
            write_node(first, fields, f)?;
            for (op, operand) in rest {
                f.write_str(op.spaced())?;
                write_node(operand, fields, f)?;
            }
            Ok(())
        }
    }
}
