//! Whether criteria select an event. The criteria are first evaluated in Kleene's three-valued
//! logic, a field the lookup does not give being unknown; that is sound, and settles nearly
//! everything. What it leaves open is decided exactly by trying every value of the unknown
//! fields the open part reads that the criteria can tell apart: each string they compare the
//! field with, one string they do not, and the field missing from the event.

use std::collections::BTreeSet;

use super::parse::{Cmp, Node};
use crate::chain::{Reading, fold, readings};
use super::{Selected, WORK_BUDGET};


/// A Kleene truth value whose undetermined case carries the unknown fields it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kleene {
    Yes,
    No,
    Open(BTreeSet<usize>),
}

fn and_k(a: Kleene, b: Kleene) -> Kleene {
    match (a, b) {
        (Kleene::No, _) | (_, Kleene::No) => Kleene::No,
        (Kleene::Open(mut x), Kleene::Open(y)) => {
            x.extend(y);
            Kleene::Open(x)
        }
        (Kleene::Open(x), _) | (_, Kleene::Open(x)) => Kleene::Open(x),
        _ => Kleene::Yes,
    }
}

fn or_k(a: Kleene, b: Kleene) -> Kleene {
    match (a, b) {
        (Kleene::Yes, _) | (_, Kleene::Yes) => Kleene::Yes,
        (Kleene::Open(mut x), Kleene::Open(y)) => {
            x.extend(y);
            Kleene::Open(x)
        }
        (Kleene::Open(x), _) | (_, Kleene::Open(x)) => Kleene::Open(x),
        _ => Kleene::No,
    }
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// What an unknown field is taken to hold, for one combination.
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Is(&'a str),
    /// A string the criteria never compare it with.
    Other,
    /// The event has no such field.
    Missing,
}

fn compare(cmp: Cmp, values: &[String], value: Value<'_>) -> Option<bool> {
    let positive = matches!(cmp, Cmp::Eq | Cmp::In);
    match value {
        Value::Is(v) => Some(values.iter().any(|x| x == v) == positive),
        Value::Other => Some(!positive),
        // No value equals a missing field; whether a missing field is "not equal" is unsaid.
        Value::Missing => if positive { Some(false) } else { None },
    }
}

fn kleene(node: &Node, known: &[Option<String>], reading: Reading) -> Kleene {
    match node {
        Node::Cmp { field, cmp, values } => match known.get(*field).and_then(Option::as_deref) {
            Some(v) => {
                if compare(*cmp, values, Value::Is(v)) == Some(true) {
                    Kleene::Yes
                } else {
                    Kleene::No
                }
            }
            None => Kleene::Open(BTreeSet::from([*field])),
        },
        Node::Group(inner) => kleene(inner, known, reading),
        Node::Chain(first, rest) => {
            let first = kleene(first, known, reading);
            let rest = rest.iter().map(|(op, x)| (*op, kleene(x, known, reading))).collect();
            fold(first, rest, reading, and_k, or_k)
        }
    }
}

fn in_world(node: &Node, world: &[Value<'_>], reading: Reading) -> Option<bool> {
    match node {
        Node::Cmp { field, cmp, values } => compare(*cmp, values, world.get(*field).copied().unwrap_or(Value::Other)),
        Node::Group(inner) => in_world(inner, world, reading),
        Node::Chain(first, rest) => {
            let first = in_world(first, world, reading);
            let rest = rest.iter().map(|(op, x)| (*op, in_world(x, world, reading))).collect();
            fold(first, rest, reading, and3, or3)
        }
    }
}

fn count(node: &Node) -> usize {
    match node {
        Node::Cmp { .. } => 1,
        Node::Group(inner) => 1 + count(inner),
        Node::Chain(first, rest) => 1 + count(first) + rest.iter().map(|(_, x)| count(x)).sum::<usize>(),
    }
}

/// Every string the criteria compare each field with.
fn literals<'a>(node: &'a Node, out: &mut [BTreeSet<&'a str>]) {
    match node {
        Node::Cmp { field, values, .. } => {
            if let Some(set) = out.get_mut(*field) {
                set.extend(values.iter().map(String::as_str));
            }
        }
        Node::Group(inner) => literals(inner, out),
        Node::Chain(first, rest) => {
            literals(first, out);
            for (_, x) in rest {
                literals(x, out);
            }
        }
    }
}

const PRECEDENCE: &str = "the answer depends on how AND and OR group without parentheses, which CloudWatch does not document";

fn unknown_fields(fields: &[String], open: &[usize]) -> String {
    let names: Vec<&str> = open.iter().filter_map(|f| fields.get(*f)).map(String::as_str).collect();
    match names.as_slice() {
        [one] => format!("the answer depends on the value of {one}, which orgwatch does not know"),
        [init @ .., last] => {
            format!("the answer depends on the values of {} and {last}, which orgwatch does not know", init.join(", "))
        }
        [] => "the answer depends on fields orgwatch does not know".to_owned(),
    }
}

pub(super) fn selects(
    root: &Node,
    fields: &[String],
    relies_on_precedence: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Selected {
    let known: Vec<Option<String>> = fields.iter().map(|f| lookup(f)).collect();
    let readings = readings(relies_on_precedence);
    let judged: Vec<Kleene> = readings.iter().map(|r| kleene(root, &known, *r)).collect();
    let mut open = BTreeSet::new();
    for k in &judged {
        if let Kleene::Open(read) = k {
            open.extend(read.iter().copied());
        }
    }
    if open.is_empty() {
        return if judged.iter().all(|k| *k == Kleene::Yes) {
            Selected::Yes
        } else if judged.iter().all(|k| *k == Kleene::No) {
            Selected::No
        } else {
            Selected::Undecidable(PRECEDENCE.to_owned())
        };
    }

    // Decide exactly: every combination of the values of the open fields.
    let open: Vec<usize> = open.into_iter().collect();
    let mut compared: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); fields.len()];
    literals(root, &mut compared);
    let choices: Vec<Vec<Value<'_>>> = open
        .iter()
        .map(|f| {
            let strings = compared.get(*f).map(|s| s.iter().map(|v| Value::Is(v)).collect::<Vec<_>>()).unwrap_or_default();
            strings.into_iter().chain([Value::Other, Value::Missing]).collect()
        })
        .collect();
    let combinations = choices.iter().fold(1usize, |n, c| n.saturating_mul(c.len()));
    if combinations.saturating_mul(count(root)).saturating_mul(readings.len()) > WORK_BUDGET {
        return Selected::Undecidable(format!(
            "{} (too many combinations of their values to try within {WORK_BUDGET} steps)",
            unknown_fields(fields, &open)
        ));
    }
    let mut world: Vec<Value<'_>> = known.iter().map(|k| k.as_deref().map_or(Value::Other, Value::Is)).collect();
    // For each reading: (seen true, seen false, seen undetermined).
    let mut seen = vec![(false, false, false); readings.len()];
    let mut split = false;
    let mut odometer = vec![0usize; open.len()];
    'combinations: loop {
        for ((field, choice), at) in open.iter().zip(&choices).zip(&odometer) {
            if let (Some(slot), Some(value)) = (world.get_mut(*field), choice.get(*at)) {
                *slot = *value;
            }
        }
        let results: Vec<Option<bool>> = readings.iter().map(|r| in_world(root, &world, *r)).collect();
        if results.windows(2).any(|w| w[0] != w[1]) {
            split = true;
        }
        for (s, r) in seen.iter_mut().zip(&results) {
            match r {
                Some(true) => s.0 = true,
                Some(false) => s.1 = true,
                None => s.2 = true,
            }
        }
        for (at, choice) in odometer.iter_mut().zip(&choices) {
            *at += 1;
            if *at < choice.len() {
                continue 'combinations;
            }
            *at = 0;
        }
        break;
    }
    if seen.iter().all(|s| *s == (true, false, false)) {
        return Selected::Yes;
    }
    if seen.iter().all(|s| *s == (false, true, false)) {
        return Selected::No;
    }
    let mut why = Vec::new();
    if seen.iter().any(|s| *s != (true, false, false) && *s != (false, true, false)) {
        why.push(unknown_fields(fields, &open));
    }
    if split {
        why.push(PRECEDENCE.to_owned());
    }
    Selected::Undecidable(why.join("; "))
}
