//! CloudWatch metric math, as a metric-math alarm uses it: parsing an expression, and judging
//! by its meaning what it does while a burst of denied API calls happens.
//!
//! An alarm on the CIS "unauthorized API calls" metric may watch an expression over its
//! metric (`FILL(m1, 0)`, `m1 / PERIOD(m1)`, `SUM([m1, m2])`…) rather than the metric itself.
//! The expression is written by an account owner, so it is untrusted input.
//! [`Expression::parse`] never panics, refuses text longer than [`MAX_EXPRESSION_LEN`]
//! characters (the API's own limit on `MetricDataQuery.Expression`) and nesting deeper than
//! [`MAX_NESTING`], and reports every refusal with a 1-based column counted in characters.
//!
//! # The language read
//! As the CloudWatch User Guide ("Metric math syntax and functions") documents it: numbers
//! (`5`, `50.25`; `.5`, `5.` and an exponent `1e3` are accepted too, though the guide shows
//! none); ids of other queries (a lower-case letter, then letters, digits and underscores);
//! calls of upper-case function names with any arguments, including the bare upper-case
//! keywords some take as a whole argument (`FILL(m1, REPEAT)`,
//! `SORT(METRICS(), AVG, DESC, 10)`) and nowhere else; arrays
//! `[a, b, …]`; strings in double or single quotes (`METRICS("errors")`,
//! `SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', 'Average', 300)`), where a
//! backslash escapes the next character; `+ - * / ^` and unary minus; the comparisons
//! `== != <= < >= >`; the logical operators `AND`/`&&` and `OR`/`||` (the guide documents no
//! NOT operator, so `NOT` is an ordinary name: `NOT(x)` is a call of an unknown function);
//! parentheses. A function name the guide does not document parses, and is judged
//! undecidable. Text starting with `SELECT` is a Metrics Insights query, which shares the
//! field but not the language: it is kept whole and judged undecidable.
//!
//! The guide gives no precedence. Read here, loosest first: `OR`, `AND`, comparisons,
//! `+ -`, `* /`, unary minus, `^`; all left to right except `^`. Where another reading is
//! plausible and would change the meaning — `a ^ b ^ c`, `-a ^ b`, `a OR b AND c`, a chain
//! of comparisons `a < b < c` — the judgement below takes every reading and is certain only
//! when they agree.
//!
//! # The judgement
//! [`Expression::during_burst`] evaluates the expression abstractly at the period of a burst
//! of denied calls: the filter's metric (under `Sum` or `SampleCount`) rises without bound,
//! while every other metric holds some finite value that the burst does not move. Each id's
//! [`Value`] comes from the caller. The answer is sound: [`Value::Unbounded`] or a
//! [`Value::Constant`] only when certain, [`Value::Free`] when only other metrics decide the
//! value, anything else [`Value::Undecidable`] with the form it could not judge.
//!
//! Judged, as the guide documents them: arithmetic (missing points count as 0; a division by
//! zero drops the point, so it is undecidable), comparisons (0 or 1), `AND` and `OR` (read as
//! taking 0 for false and anything else for true, and yielding 0 or 1, as comparisons yield and
//! as `IF` reads its condition), `IF`, `FILL` (a burst means its first argument has data, so
//! FILL returns it — but see the guide's warning that a metric published late has its latest
//! point filled), `ABS`, `CEIL`, `FLOOR`, `LOG`, `LOG10`, `RUNNING_SUM`, `TIME_SERIES`, `FIRST` and
//! `LAST` of an array written out, `SUM`, `AVG`, `MAX`, `MIN` of an array (per period) and of
//! one series (a scalar over the whole time range: its sum, average and maximum rise with a
//! burst, its minimum does not), `PERIOD` (a positive number the burst does not move) and
//! the timestamp functions `MINUTE` … `EPOCH`. The other documented functions (`RATE`, `DIFF`,
//! `STDDEV`, `SORT`, `SLICE`, `DATAPOINT_COUNT`, …) depend on the metric in ways orgwatch does
//! not model: they are undecidable when they read the metric, and free when they read only
//! other metrics. The sources `METRICS`, `SEARCH`, `INSIGHT_RULE_METRIC`, `LAMBDA`,
//! `DB_PERF_INSIGHTS` and `ANOMALY_DETECTION_BAND` are always undecidable.

mod eval;
mod parse;

#[cfg(test)]
mod tests;

use std::fmt;

/// Longest expression accepted, in characters: the CloudWatch API's maximum length of
/// `MetricDataQuery.Expression` (the `MetricExpression` shape, 1 to 2048).
pub const MAX_EXPRESSION_LEN: usize = 2048;

/// Deepest nesting accepted: parentheses, brackets, calls and unary minus signs, counted
/// together. CloudWatch publishes no limit; this one keeps recursion shallow on hostile input
/// and is far beyond anything a person writes.
pub const MAX_NESTING: usize = 32;

/// Why an expression was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ParseError {
    /// 1-based column, counted in characters, of the place the parser stopped at.
    pub column: usize,
    /// What was expected or found, in a user's words.
    pub message: String,
}

/// What an expression (or an id) is worth at the period of a burst of denied calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Rises without bound with the count of denied calls.
    Unbounded,
    /// Exactly this number during a burst, whatever the other metrics do.
    Constant(f64),
    /// Depends only on other metrics: the burst does not move it.
    Free,
    /// orgwatch cannot judge this form; names it (e.g. "RATE(m1)", "m1 - m2", "SEARCH(…)").
    Undecidable(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unbounded => f.write_str("rises with the count of denied calls"),
            Value::Constant(c) => write!(f, "is {} during a burst", parse::number_text(*c)),
            Value::Free => f.write_str("depends on other metrics only"),
            Value::Undecidable(why) => write!(f, "cannot be judged: {why}"),
        }
    }
}

/// A parsed metric math expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    root: parse::Node,
}

impl Expression {
    /// Reads an expression as CloudWatch would accept it in a `MetricDataQuery`.
    pub fn parse(text: &str) -> Result<Expression, ParseError> {
        let length = text.chars().count();
        if length > MAX_EXPRESSION_LEN {
            let message = format!("the expression is {length} characters long; CloudWatch accepts at most {MAX_EXPRESSION_LEN}");
            return Err(ParseError { column: MAX_EXPRESSION_LEN + 1, message });
        }
        Ok(Expression { root: parse::parse(text)? })
    }

    /// The ids of other queries the expression reads, deduplicated, in order of appearance.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids = Vec::new();
        eval::collect_ids(&self.root, &mut ids);
        ids
    }

    /// Its value during a burst, each id's value given by `env` (None = an id no query
    /// defines: Undecidable naming it).
    pub fn during_burst(&self, env: &dyn Fn(&str) -> Option<Value>) -> Value {
        eval::during_burst(&self.root, env)
    }
}

/// The canonical form: operators spaced, `&&`/`||` as `AND`/`OR`, numbers in shortest form,
/// parentheses and strings as written. It parses back to an equal expression, unless the
/// added spaces take it past [`MAX_EXPRESSION_LEN`].
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root)
    }
}

/// Why a burst does not make an alarm's value reach its threshold.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Reach {
    /// Certainly not: why.
    #[error("a burst of denied calls never reaches the threshold: {0}")]
    Never(String),
    /// During a burst the value is fixed by other metrics alone.
    #[error("the value does not depend on the metric")]
    NotOnTheMetric,
    /// orgwatch cannot tell: why.
    #[error("{0}")]
    Undecidable(String),
}

/// Whether a burst makes `value` reach the alarm's threshold under `operator` (CloudWatch's
/// ComparisonOperator names): Unbounded reaches any GreaterThan… threshold; Constant(v) compares v;
/// Free → Err("does not depend on the metric"), Undecidable(why) → Err(why); LessThan… on Unbounded → Err(..).
pub fn reaches(value: &Value, operator: &str, threshold: f64) -> Result<(), Reach> {
    let compare: fn(f64, f64) -> bool = match operator {
        "GreaterThanThreshold" => |v, t| v > t,
        "GreaterThanOrEqualToThreshold" => |v, t| v >= t,
        "LessThanThreshold" => |v, t| v < t,
        "LessThanOrEqualToThreshold" => |v, t| v <= t,
        "LessThanLowerOrGreaterThanUpperThreshold" | "LessThanLowerThreshold" | "GreaterThanUpperThreshold" => {
            return Err(Reach::Undecidable(format!("{operator} compares with an anomaly detection band, not a threshold")));
        }
        other => return Err(Reach::Undecidable(format!("unknown comparison operator {other:?}"))),
    };
    if !threshold.is_finite() {
        return Err(Reach::Undecidable(format!("the threshold {threshold} is not a finite number")));
    }
    match value {
        Value::Unbounded if operator.starts_with("Greater") => Ok(()),
        Value::Unbounded => Err(Reach::Never(format!("the value rises with the count of denied calls, so it leaves a {operator} of {}", parse::number_text(threshold)))),
        Value::Constant(v) if !v.is_finite() => Err(Reach::Undecidable(format!("the value {v} is not a finite number"))),
        Value::Constant(v) if compare(*v, threshold) => Ok(()),
        Value::Constant(v) => {
            Err(Reach::Never(format!("the value is {} during a burst, which does not meet {operator} {}", parse::number_text(*v), parse::number_text(threshold))))
        }
        Value::Free => Err(Reach::NotOnTheMetric),
        Value::Undecidable(why) => Err(Reach::Undecidable(why.clone())),
    }
}
