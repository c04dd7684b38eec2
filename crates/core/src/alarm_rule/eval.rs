//! The implication check: is the rule a tautology once the in-ALARM references are replaced by
//! their truth? The other alarms become variables over three exclusive states; the search
//! evaluates the rule in Kleene's three-valued logic under a partial assignment (constants fold
//! on the way), stops at the first assignment that makes it false, and branches only on a
//! variable the undetermined part of the rule reads.

use std::collections::HashMap;

use super::parse::{Node, Op, Threshold};
use crate::chain::{Reading, groups, readings};
use super::{Implication, Ref, State, WORK_BUDGET};


/// The rule with its in-ALARM references replaced by constants and its other alarms by
/// variables.
#[derive(Debug)]
enum Formula {
    Const(bool),
    /// Variable `var` is in `state`.
    Is { var: usize, state: State },
    Not(Box<Formula>),
    And(Vec<Formula>),
    Or(Vec<Formula>),
    /// `((first op₁ x₁) op₂ x₂) …`, evaluated as a loop rather than a deep tree.
    Fold(Box<Formula>, Vec<(Op, Formula)>),
    /// At least `need` hold among `known` already-true items and `items`.
    AtLeast { need: usize, known: usize, items: Vec<Item> },
}

/// An `AT_LEAST` entry on a variable: it counts when the variable is in `state`, or, negated,
/// when it is not.
#[derive(Debug)]
struct Item {
    var: usize,
    state: State,
    negated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    True,
    False,
    /// Undetermined; a variable the undetermined part reads.
    Unknown(usize),
}

fn tri(b: bool) -> Tri {
    if b { Tri::True } else { Tri::False }
}

fn and3(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::False, _) | (_, Tri::False) => Tri::False,
        (Tri::Unknown(v), _) | (_, Tri::Unknown(v)) => Tri::Unknown(v),
        _ => Tri::True,
    }
}

fn or3(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::True, _) | (_, Tri::True) => Tri::True,
        (Tri::Unknown(v), _) | (_, Tri::Unknown(v)) => Tri::Unknown(v),
        _ => Tri::False,
    }
}

pub(super) fn implied_by(root: &Node, alarms: &[String], relies_on_precedence: bool, identity: &dyn Fn(&str) -> Ref) -> Implication {
    // Each other alarm is one variable, named by its first spelling in the rule.
    let mut names: Vec<&str> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let resolved: Vec<Option<usize>> = alarms
        .iter()
        .map(|alarm| match identity(alarm) {
            Ref::InAlarm => None,
            Ref::Other(id) => Some(*ids.entry(id).or_insert_with(|| {
                names.push(alarm);
                names.len() - 1
            })),
        })
        .collect();
    let readings = readings(relies_on_precedence);
    let lowering = Lowering { alarms, resolved: &resolved };
    let mut formulas = Vec::new();
    for reading in readings {
        match lowering.lower(root, *reading) {
            Ok(formula) => formulas.push(formula),
            Err(why) => return Implication::Undecidable { why },
        }
    }
    let mut search = Search::new(names.len(), &formulas);
    let over_budget = || Implication::Undecidable {
        why: format!(
            "the rule's {} other alarms have too many states to search within {WORK_BUDGET} steps",
            names.len()
        ),
    };
    let counterexample = |assignment: Vec<(usize, State)>| Implication::NotAlways {
        counterexample: assignment.into_iter().map(|(var, state)| (names[var].to_owned(), state)).collect(),
    };
    if let [formula] = formulas.as_slice() {
        return match search.falsify(formula) {
            Err(OverBudget) => over_budget(),
            Ok(None) => Implication::Always,
            Ok(Some(assignment)) => counterexample(assignment),
        };
    }
    let mut always = 0;
    for formula in &formulas {
        match search.falsify(formula) {
            Err(OverBudget) => return over_budget(),
            Ok(None) => always += 1,
            Ok(Some(_)) => {}
        }
    }
    if always == formulas.len() {
        return Implication::Always;
    }
    if always > 0 {
        return Implication::Undecidable {
            why: "the answer depends on how AND and OR group without parentheses, which CloudWatch does not document"
                .to_owned(),
        };
    }
    // False somewhere under every reading: find one state false under all of them.
    match search.falsify(&Formula::Or(formulas)) {
        Err(OverBudget) => over_budget(),
        Ok(Some(assignment)) => counterexample(assignment),
        Ok(None) => Implication::Undecidable {
            why: "the rule is false in some state however AND and OR group without parentheses, but in no one state \
                  for every grouping, and CloudWatch does not document which it uses"
                .to_owned(),
        },
    }
}

struct Lowering<'a> {
    alarms: &'a [String],
    /// Per alarm of the rule: `None` in ALARM, else its variable.
    resolved: &'a [Option<usize>],
}

impl Lowering<'_> {
    fn name(&self, alarm: usize) -> &str {
        self.alarms.get(alarm).map_or("", String::as_str)
    }

    fn var(&self, alarm: usize) -> Option<usize> {
        self.resolved.get(alarm).copied().flatten()
    }

    fn lower(&self, node: &Node, reading: Reading) -> Result<Formula, String> {
        Ok(match node {
            Node::Const(b) => Formula::Const(*b),
            Node::Is { state, alarm } => match self.var(*alarm) {
                None => Formula::Const(*state == State::Alarm),
                Some(var) => Formula::Is { var, state: *state },
            },
            Node::AtLeast { threshold, negated, state, alarms } => self.at_least(*threshold, *negated, *state, alarms)?,
            Node::Not(operand) => Formula::Not(Box::new(self.lower(operand, reading)?)),
            Node::Group(inner) => self.lower(inner, reading)?,
            Node::Chain(first, rest) => {
                let first = self.lower(first, reading)?;
                let rest = rest
                    .iter()
                    .map(|(op, operand)| Ok((*op, self.lower(operand, reading)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                match reading {
                    Reading::AndFirst => split(first, rest, Op::Or, Formula::Or, Formula::And),
                    Reading::OrFirst => split(first, rest, Op::And, Formula::And, Formula::Or),
                    Reading::LeftToRight => Formula::Fold(Box::new(first), rest),
                }
            }
        })
    }

    fn at_least(&self, threshold: Threshold, negated: bool, state: State, alarms: &[usize]) -> Result<Formula, String> {
        let need = match threshold {
            Threshold::Count(m) => m,
            Threshold::Percent(p) => (p * alarms.len()).div_ceil(100),
        };
        let mut known = 0;
        let mut items = Vec::new();
        // Which entry stands for each alarm: `None` for the (possibly several) in ALARM.
        let mut seen: HashMap<Option<usize>, usize> = HashMap::new();
        for &alarm in alarms {
            let var = self.var(alarm);
            if let Some(earlier) = seen.insert(var, alarm) {
                let (a, b) = (self.name(earlier), self.name(alarm));
                return Err(if earlier == alarm {
                    format!("AT_LEAST lists \"{a}\" twice, and CloudWatch does not document how it counts it")
                } else if var.is_none() {
                    format!(
                        "AT_LEAST lists both \"{a}\" and \"{b}\" among the alarms in ALARM; if they are one alarm, \
                         CloudWatch does not document how it counts it"
                    )
                } else {
                    format!("AT_LEAST lists one alarm twice, as \"{a}\" and \"{b}\", and CloudWatch does not document how it counts it")
                });
            }
            match var {
                None => known += usize::from((state == State::Alarm) != negated),
                Some(var) => items.push(Item { var, state, negated }),
            }
        }
        Ok(Formula::AtLeast { need, known, items })
    }
}

/// A chain grouped with `loose_op` binding loosest: runs joined by the other operator become
/// `tight` groups, and those are joined by `loose`.
fn split(
    first: Formula,
    rest: Vec<(Op, Formula)>,
    loose_op: Op,
    loose: fn(Vec<Formula>) -> Formula,
    tight: fn(Vec<Formula>) -> Formula,
) -> Formula {
    let mut groups: Vec<Formula> =
        groups(first, rest, loose_op).into_iter().map(|mut g| if g.len() == 1 { g.remove(0) } else { tight(g) }).collect();
    if groups.len() == 1 { groups.remove(0) } else { loose(groups) }
}

struct OverBudget;

/// The order states are tried in: the everyday ones first, so that a counterexample reads as
/// "while the other alarm is OK" where that is one.
const PREFERENCE: [State; 3] = [State::Ok, State::Alarm, State::InsufficientData];

struct Search {
    assignment: Vec<Option<State>>,
    /// The states worth trying per variable: those the rule mentions for it, and one it does
    /// not (the unmentioned states are indistinguishable to the rule).
    values: Vec<Vec<State>>,
    work: usize,
}

impl Search {
    fn new(vars: usize, formulas: &[Formula]) -> Search {
        let mut mentioned = vec![[false; 3]; vars];
        for formula in formulas {
            mention(formula, &mut mentioned);
        }
        let values = mentioned
            .iter()
            .map(|m| {
                let mut spare = true;
                PREFERENCE.into_iter().filter(|s| m[index(*s)] || std::mem::replace(&mut spare, false)).collect()
            })
            .collect();
        Search { assignment: vec![None; vars], values, work: 0 }
    }

    /// An assignment of some variables under which `formula` is false whatever the others
    /// are, or `None` if it is true under every assignment. No variable of the assignment can
    /// be left out.
    fn falsify(&mut self, formula: &Formula) -> Result<Option<Vec<(usize, State)>>, OverBudget> {
        self.assignment.iter_mut().for_each(|a| *a = None);
        if !self.branch(formula)? {
            return Ok(None);
        }
        for var in 0..self.assignment.len() {
            if let Some(state) = self.assignment[var].take()
                && self.eval(formula) != Tri::False
            {
                self.assignment[var] = Some(state);
            }
        }
        Ok(Some(self.assignment.iter().enumerate().filter_map(|(var, s)| s.map(|s| (var, s))).collect()))
    }

    /// Whether some extension of the current assignment makes `formula` false (and leaves it
    /// in place).
    fn branch(&mut self, formula: &Formula) -> Result<bool, OverBudget> {
        if self.work > WORK_BUDGET {
            return Err(OverBudget);
        }
        match self.eval(formula) {
            Tri::True => Ok(false),
            Tri::False => Ok(true),
            Tri::Unknown(var) => {
                for i in 0..self.values[var].len() {
                    self.assignment[var] = Some(self.values[var][i]);
                    if self.branch(formula)? {
                        return Ok(true);
                    }
                }
                self.assignment[var] = None;
                Ok(false)
            }
        }
    }

    fn eval(&mut self, formula: &Formula) -> Tri {
        self.work += 1;
        match formula {
            Formula::Const(b) => tri(*b),
            Formula::Is { var, state } => match self.assignment[*var] {
                Some(s) => tri(s == *state),
                None => Tri::Unknown(*var),
            },
            Formula::Not(operand) => match self.eval(operand) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                unknown => unknown,
            },
            Formula::And(operands) => {
                let mut value = Tri::True;
                for operand in operands {
                    value = and3(value, self.eval(operand));
                    if value == Tri::False {
                        break;
                    }
                }
                value
            }
            Formula::Or(operands) => {
                let mut value = Tri::False;
                for operand in operands {
                    value = or3(value, self.eval(operand));
                    if value == Tri::True {
                        break;
                    }
                }
                value
            }
            Formula::Fold(first, rest) => {
                let mut value = self.eval(first);
                for (op, operand) in rest {
                    value = match (op, value) {
                        (Op::And, Tri::False) => Tri::False,
                        (Op::Or, Tri::True) => Tri::True,
                        (Op::And, _) => and3(value, self.eval(operand)),
                        (Op::Or, _) => or3(value, self.eval(operand)),
                    };
                }
                value
            }
            Formula::AtLeast { need, known, items } => {
                self.work += items.len();
                let (mut yes, mut open, mut first_open) = (*known, 0, None);
                for item in items {
                    match self.assignment[item.var] {
                        Some(s) => yes += usize::from((s == item.state) != item.negated),
                        None => {
                            open += 1;
                            first_open.get_or_insert(item.var);
                        }
                    }
                }
                match first_open {
                    _ if yes >= *need => Tri::True,
                    Some(var) if yes + open >= *need => Tri::Unknown(var),
                    _ => Tri::False,
                }
            }
        }
    }
}

/// The position of `state` in [`State::ALL`].
fn index(state: State) -> usize {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// Marks the states `formula` tests each variable for.
fn mention(formula: &Formula, mentioned: &mut [[bool; 3]]) {
    match formula {
        Formula::Const(_) => {}
        Formula::Is { var, state } => mentioned[*var][index(*state)] = true,
        Formula::Not(operand) => mention(operand, mentioned),
        Formula::And(operands) | Formula::Or(operands) => operands.iter().for_each(|o| mention(o, mentioned)),
        Formula::Fold(first, rest) => {
            mention(first, mentioned);
            rest.iter().for_each(|(_, o)| mention(o, mentioned));
        }
        Formula::AtLeast { items, .. } => items.iter().for_each(|item| mentioned[item.var][index(item.state)] = true),
    }
}
