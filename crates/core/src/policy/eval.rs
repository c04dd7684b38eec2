//! Whether one statement applies to a request, in three values: the principal and action are
//! always certain, a resource or a condition may not be.

use super::glob;
use super::parse::{ConditionBlock, Element, PrincipalBlock, Rule};
use super::{AccessRequest, Context, ContextValue};

/// Kleene's three values; `Unknown` carries why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tri {
    True,
    False,
    Unknown(String),
}

impl Tri {
    fn from(value: bool) -> Tri {
        if value { Tri::True } else { Tri::False }
    }

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            unknown => unknown,
        }
    }

    /// True when any is; else the first unknown; else false.
    fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut unknown = None;
        for item in items {
            match item {
                Tri::True => return Tri::True,
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::False => {}
            }
        }
        unknown.map_or(Tri::False, Tri::Unknown)
    }

    /// False when any is; else the first unknown; else true.
    fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        Tri::any(items.into_iter().map(Tri::not)).not()
    }
}

/// Whether `rule` applies to `request`. The certain parts come first: a statement whose
/// principal or action does not match does not apply, whatever its conditions say.
pub(super) fn applies(rule: &Rule, request: &AccessRequest<'_>) -> Tri {
    if principal_matches(&rule.principal.block, request.service) == rule.principal.negated {
        return Tri::False;
    }
    let action = rule.actions.values.iter().any(|pattern| glob::matches_ignoring_case(pattern, request.action));
    if action == rule.actions.negated {
        return Tri::False;
    }
    let resource = match &rule.resources {
        None => Tri::True,
        Some(element) => resource_matches(element, request.resource),
    };
    if resource == Tri::False {
        return Tri::False;
    }
    let conditions = Tri::all(rule.conditions.iter().map(|block| block_holds(block, request.context)));
    Tri::all([resource, conditions])
}

/// Whether a Principal block names the service principal: `"*"`, `{"AWS": "*"}`, or the
/// service itself. Accounts, roles, users and federated or canonical users never do.
fn principal_matches(block: &PrincipalBlock, service: &str) -> bool {
    match block {
        PrincipalBlock::Everyone => true,
        PrincipalBlock::Named { aws, service: services } => {
            aws.iter().any(|name| name == "*") || services.iter().any(|name| name.eq_ignore_ascii_case(service))
        }
    }
}

fn resource_matches(element: &Element, resource: &str) -> Tri {
    let field = if element.negated { "NotResource" } else { "Resource" };
    let matched = Tri::any(element.values.iter().map(|pattern| {
        if has_variable(pattern) {
            Tri::Unknown(variable(field, pattern))
        } else {
            Tri::from(glob::matches(pattern, resource))
        }
    }));
    if element.negated { matched.not() } else { matched }
}

fn has_variable(value: &str) -> bool {
    value.contains("${")
}

fn variable(place: &str, value: &str) -> String {
    format!("{place} {value:?} holds a policy variable, which orgwatch does not resolve")
}

/// A condition operator as IAM spells it: an optional set prefix, the test, an optional
/// `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Operator {
    set: Option<SetPrefix>,
    test: Test,
    negated: bool,
    if_exists: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetPrefix {
    ForAnyValue,
    ForAllValues,
}

/// The positive test behind an operator; the `…Not…` operators negate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Arn,
    Bool,
    Null,
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetPrefix::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetPrefix::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let (test, negated) = match rest {
            "StringEquals" => (Test::StringEquals, false),
            "StringNotEquals" => (Test::StringEquals, true),
            "StringEqualsIgnoreCase" => (Test::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Test::StringEqualsIgnoreCase, true),
            "StringLike" => (Test::StringLike, false),
            "StringNotLike" => (Test::StringLike, true),
            "ArnEquals" | "ArnLike" => (Test::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Test::Arn, true),
            "Bool" => (Test::Bool, false),
            "Null" if set.is_none() && !if_exists => (Test::Null, false),
            _ => return None,
        };
        Some(Operator { set, test, negated, if_exists })
    }
}

/// Every key under one operator must hold.
fn block_holds(block: &ConditionBlock, context: &Context) -> Tri {
    let Some(operator) = Operator::parse(&block.operator) else {
        return Tri::Unknown(format!("condition operator {} is not one orgwatch can judge", block.operator));
    };
    Tri::all(block.keys.iter().map(|(key, values)| key_holds(operator, key, values, context)))
}

fn key_holds(operator: Operator, key: &str, values: &[String], context: &Context) -> Tri {
    let Some(carried) = context.get(key) else {
        return Tri::Unknown(format!("condition key {key} is not one orgwatch can judge"));
    };
    if operator.test == Test::Null {
        return null_holds(values, !matches!(carried, ContextValue::Absent));
    }
    let request = match carried {
        ContextValue::Unknown(why) => return Tri::Unknown(format!("condition key {key}: {why}")),
        ContextValue::Absent if operator.if_exists => return Tri::True,
        ContextValue::Absent => {
            return match operator.set {
                Some(SetPrefix::ForAllValues) => Tri::True,
                Some(SetPrefix::ForAnyValue) => Tri::False,
                None => Tri::from(operator.negated),
            };
        }
        ContextValue::Present(request) => request,
    };
    // Whether one value of the request matches any of the policy's.
    let hit = |value: &String| Tri::any(values.iter().map(|pattern| test(operator.test, key, pattern, value)));
    match (operator.set, operator.negated) {
        (None | Some(SetPrefix::ForAnyValue), false) => Tri::any(request.iter().map(hit)),
        (None | Some(SetPrefix::ForAllValues), true) => Tri::any(request.iter().map(hit)).not(),
        (Some(SetPrefix::ForAllValues), false) => Tri::all(request.iter().map(hit)),
        (Some(SetPrefix::ForAnyValue), true) => Tri::any(request.iter().map(|value| hit(value).not())),
    }
}

/// `Null`: `"true"` holds when the request lacks the key, `"false"` when it carries it.
fn null_holds(values: &[String], carried: bool) -> Tri {
    Tri::any(values.iter().map(|value| {
        if has_variable(value) {
            Tri::Unknown(variable("condition value", value))
        } else if value.eq_ignore_ascii_case("true") {
            Tri::from(!carried)
        } else if value.eq_ignore_ascii_case("false") {
            Tri::from(carried)
        } else {
            Tri::Unknown(format!("Null takes \"true\" or \"false\", not {value:?}"))
        }
    }))
}

/// One policy value against one request value.
fn test(test: Test, key: &str, pattern: &str, value: &str) -> Tri {
    if has_variable(pattern) {
        return Tri::Unknown(variable("condition value", pattern));
    }
    match test {
        Test::StringEquals => Tri::from(pattern == value),
        Test::StringEqualsIgnoreCase => Tri::from(pattern.to_lowercase() == value.to_lowercase()),
        Test::StringLike => Tri::from(glob::matches(pattern, value)),
        Test::Bool => Tri::from(pattern.eq_ignore_ascii_case(value)),
        Test::Arn => arn_matches(key, pattern, value),
        // Handled before any value is looked at.
        Test::Null => Tri::False,
    }
}

/// ARNs compare part by part on their six colon-separated parts (the last keeps its colons),
/// each a case-sensitive glob.
fn arn_matches(key: &str, pattern: &str, value: &str) -> Tri {
    let patterns: Vec<&str> = pattern.splitn(6, ':').collect();
    if patterns.len() < 6 {
        return Tri::Unknown(format!("the value {pattern:?} for condition key {key} is not an ARN"));
    }
    let values: Vec<&str> = value.splitn(6, ':').collect();
    Tri::from(values.len() == 6 && patterns.iter().zip(&values).all(|(p, v)| glob::matches(p, v)))
}
