//! A filter pattern's condition as a CloudWatch Logs Insights `filter` clause, for the query a
//! responder runs when the alarm fires (`orgwatch investigate`): it lists the events the metric
//! filter counts.
//!
//! Only JSON patterns are rendered, and only where Insights expresses exactly what the pattern
//! means: a clause that listed other events than the alarm counts would send a responder the
//! wrong way. So a wildcard selector (`$.a[*]`), `IS NULL`, `IS TRUE`, `IS FALSE` and the other
//! pattern forms are refused with the reason ([`Unrendered`]).
//!
//! | pattern | clause |
//! |---|---|
//! | `$.a.b = "x"` | `a.b = "x"` |
//! | `$.a = "x*y"` | `a like /^x.*y$/` |
//! | `$.a = %re%` | `a like /re/` |
//! | `$.a != "x"` | `a != "x"` (`not like` with a wildcard or regex) |
//! | `$.a = 5`, `$.a > 5`, … | `a = 5`, `a > 5`, … |
//! | `$.a NOT EXISTS` | `not ispresent(a)` |
//! | `$.a[0].b` | `a.0.b` (Insights flattens arrays so) |
//! | `&&`, `\|\|`, parentheses | `and`, `or`, parentheses |
//!
//! Field names other than letters, digits and `_` are quoted in backticks; strings and regular
//! expressions are escaped, so a hostile pattern cannot break out of its literal.

use crate::pattern::{Comparison, Expr, FilterPattern, Operator, PatternForm, Selector, Step, ValuePattern};
use std::fmt;

/// Why a pattern is not rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unrendered(pub String);

impl fmt::Display for Unrendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unrendered {}

/// The `filter` clause's condition for a parsed pattern.
pub fn filter_clause(pattern: &FilterPattern) -> Result<String, Unrendered> {
    match pattern.json() {
        Some(expr) => render(expr, true),
        None => Err(Unrendered(format!(
            "the pattern is {}, not JSON: orgwatch renders only JSON patterns, whose fields Insights discovers in CloudTrail's events",
            match pattern.form() {
                PatternForm::SpaceDelimited => "space-delimited",
                PatternForm::Regex => "a regular expression",
                PatternForm::Terms => "a term pattern",
                PatternForm::Json => "JSON",
            }
        ))),
    }
}

/// The fields a responder needs of each denied call.
pub const FIELDS: &str = "@timestamp, userIdentity.arn, userIdentity.type, sourceIPAddress, userAgent, eventSource, eventName, errorCode, errorMessage";

/// The two queries of a clause: every event, newest first; and the events grouped by principal.
pub fn queries(clause: &str) -> [String; 2] {
    [
        format!("fields {FIELDS}\n| filter {clause}\n| sort @timestamp desc\n| limit 10000"),
        format!(
            "filter {clause}\n| stats count(*) as calls, count_distinct(eventName) as actions, count_distinct(sourceIPAddress) as source_ips, earliest(@timestamp) as first_seen, latest(@timestamp) as last_seen by userIdentity.arn, userIdentity.type\n| sort calls desc"
        ),
    ]
}

fn render(expr: &Expr, top: bool) -> Result<String, Unrendered> {
    let joined = |parts: &[Expr], word: &str| -> Result<String, Unrendered> {
        let rendered: Vec<String> = parts.iter().map(|p| render(p, false)).collect::<Result<_, _>>()?;
        let text = rendered.join(word);
        Ok(if top || rendered.len() < 2 { text } else { format!("({text})") })
    };
    match expr {
        Expr::Or(parts) => joined(parts, " or "),
        Expr::And(parts) => joined(parts, " and "),
        Expr::Compare(comparison) => compare(comparison),
    }
}

fn compare(c: &Comparison) -> Result<String, Unrendered> {
    let field = field(&c.selector)?;
    let unsupported = |test: &str| Err(Unrendered(format!("{} {test}: Insights does not tell a JSON null, true or false from other values exactly", c.selector.text)));
    Ok(match &c.operator {
        Operator::Equal(value) => value_test(&field, value, false),
        Operator::NotEqual(value) => value_test(&field, value, true),
        Operator::Less(n) => format!("{field} < {}", number(*n)),
        Operator::LessOrEqual(n) => format!("{field} <= {}", number(*n)),
        Operator::Greater(n) => format!("{field} > {}", number(*n)),
        Operator::GreaterOrEqual(n) => format!("{field} >= {}", number(*n)),
        Operator::NotExists => format!("not ispresent({field})"),
        Operator::IsNull => return unsupported("IS NULL"),
        Operator::IsTrue => return unsupported("IS TRUE"),
        Operator::IsFalse => return unsupported("IS FALSE"),
    })
}

fn value_test(field: &str, value: &ValuePattern, negated: bool) -> String {
    let (eq, like) = if negated { ("!=", "not like") } else { ("=", "like") };
    match value {
        ValuePattern::Number { value, .. } => format!("{field} {eq} {}", number(*value)),
        ValuePattern::Text(glob) => match glob.segments() {
            [only] => format!("{field} {eq} {}", string(only)),
            segments => {
                let body: Vec<String> = segments.iter().map(|s| regex::escape(s)).collect();
                format!("{field} {like} /^{}$/", slashes(&body.join(".*")))
            }
        },
        ValuePattern::Regex(regex) => format!("{field} {like} /{}/", slashes(regex.source.trim_matches('%'))),
    }
}

fn field(selector: &Selector) -> Result<String, Unrendered> {
    let mut parts = Vec::with_capacity(selector.steps.len());
    for step in &selector.steps {
        match step {
            Step::Field(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => parts.push(name.clone()),
            Step::Field(name) => parts.push(format!("`{}`", name.replace('`', "``"))),
            Step::Index(i) => parts.push(i.to_string()),
            Step::AnyField | Step::AnyIndex => {
                return Err(Unrendered(format!("{}: Insights has no wildcard over a field's members", selector.text)));
            }
        }
    }
    if parts.is_empty() {
        return Err(Unrendered(format!("{}: the selector names no field", selector.text)));
    }
    Ok(parts.join("."))
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// A double-quoted string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regular expression's body between slashes: every `/` escaped, and no line break.
fn slashes(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut escaped = false;
    for c in body.chars() {
        match c {
            '/' if !escaped => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls;

    fn clause(pattern: &str) -> Result<String, Unrendered> {
        filter_clause(&FilterPattern::parse(pattern).unwrap())
    }

    #[test]
    fn every_published_pattern_of_every_control_renders() {
        for control in controls::all() {
            for published in &control.published_patterns {
                let rendered = clause(&published.pattern).unwrap_or_else(|e| panic!("{} ({}): {e}", control.id, published.source));
                assert!(!rendered.is_empty() && !rendered.contains("$."), "{}: {rendered}", control.id);
                // Every field the pattern selects is in the clause.
                for field in ["errorCode", "eventName", "eventSource", "userIdentity"] {
                    if published.pattern.contains(&format!("$.{field}")) {
                        assert!(rendered.contains(field), "{}: {field} missing from {rendered}", control.id);
                    }
                }
            }
        }
    }

    #[test]
    fn the_rendering_table() {
        let cases: &[(&str, &str)] = &[
            (r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#, r#"errorCode like /^.*UnauthorizedOperation$/ or errorCode like /^AccessDenied.*$/"#),
            (
                r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
                r#"userIdentity.type = "Root" and not ispresent(userIdentity.invokedBy) and eventType != "AwsServiceEvent""#,
            ),
            (r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }"#, r#"eventName = "ConsoleLogin" and additionalEventData.MFAUsed != "Yes""#),
            (r#"{ ($.a = 1 || $.b = 2) && $.c = "x" }"#, r#"(a = 1 or b = 2) and c = "x""#),
            (r#"{ $.items[0].name = "n" }"#, r#"items.0.name = "n""#),
            (r#"{ $.n > 5 && $.n <= 10.5 }"#, "n > 5 and n <= 10.5"),
            (r#"{ $.a != "x*" }"#, "a not like /^x.*$/"),
            (r#"{ $.a = %Access[A-Z]+% }"#, "a like /Access[A-Z]+/"),
            (r#"{ $.['odd.key'] = "v" }"#, r#"`odd.key` = "v""#),
            // Hostile literals stay inside their quotes and slashes.
            (r#"{ $.a = "x\" or 1=1" }"#, r#"a = "x\" or 1=1""#),
            (r#"{ $.a = "a/b*c.d" }"#, r#"a like /^a\/b.*c\.d$/"#),
        ];
        for (pattern, expected) in cases {
            assert_eq!(clause(pattern).as_deref(), Ok(*expected), "{pattern}");
        }
    }

    #[test]
    fn what_insights_cannot_say_exactly_is_refused_with_the_reason() {
        for (pattern, why) in [
            (r#"{ $.a[*] = "x" }"#, "wildcard"),
            (r#"{ $.a IS NULL }"#, "IS NULL"),
            (r#"{ $.a IS TRUE }"#, "IS TRUE"),
            ("[ip, user, ...]", "space-delimited"),
            ("ERROR", "term pattern"),
            ("%AccessDenied%", "regular expression"),
        ] {
            let Err(Unrendered(message)) = FilterPattern::parse(pattern).map(|p| filter_clause(&p)).unwrap_or_else(|e| panic!("{pattern}: {e}")) else {
                panic!("{pattern} rendered")
            };
            assert!(message.contains(why), "{pattern}: {message}");
        }
    }

    #[test]
    fn the_queries_list_the_fields_and_group_by_principal() {
        let [events, principals] = queries("errorCode = \"AccessDenied\"");
        assert!(events.starts_with("fields @timestamp, userIdentity.arn, userIdentity.type, sourceIPAddress, userAgent, eventSource, eventName, errorCode, errorMessage\n| filter errorCode"));
        assert!(principals.contains("by userIdentity.arn, userIdentity.type"), "{principals}");
    }

    proptest::proptest! {
        #[test]
        fn rendering_never_panics(text in "\\{ \\$\\.[a-z\\[\\]0-9*.']{1,12} (=|!=|>|NOT EXISTS) [\"a-z0-9*%/\\\\]{0,12} \\}") {
            if let Ok(pattern) = FilterPattern::parse(&text) {
                let _ = filter_clause(&pattern);
            }
        }
    }
}
