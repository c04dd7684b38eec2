//! `AND`/`OR` chains as the AlarmRule and selection-criteria languages write them. CloudWatch
//! documents no precedence between `AND` and `OR` without parentheses, so a chain that mixes
//! them is judged under every [`Reading`] and decided only where all agree.

/// An operator of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    And,
    Or,
}

impl Op {
    /// The operator as the canonical forms print it, spaced.
    pub(crate) fn spaced(self) -> &'static str {
        match self {
            Op::And => " AND ",
            Op::Or => " OR ",
        }
    }
}

/// How a chain that mixes AND and OR without parentheses groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// `a OR b AND c` is `a OR (b AND c)`: the usual precedence, and how a chain is shown.
    AndFirst,
    /// `a OR b AND c` is `(a OR b) AND c`.
    LeftToRight,
    /// `a AND b OR c` is `a AND (b OR c)`.
    OrFirst,
}

const READINGS: [Reading; 3] = [Reading::AndFirst, Reading::LeftToRight, Reading::OrFirst];

/// The readings to judge a parsed text under: all three when it mixes AND and OR without
/// parentheses, else the one that needs no precedence.
pub(crate) fn readings(relies_on_precedence: bool) -> &'static [Reading] {
    if relies_on_precedence { &READINGS } else { &READINGS[..1] }
}

/// The operands of a chain grouped with `loose` binding loosest: each run joined by the other
/// operator is one group, in order.
pub(crate) fn groups<T>(first: T, rest: Vec<(Op, T)>, loose: Op) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = vec![vec![first]];
    for (op, operand) in rest {
        if op == loose {
            groups.push(vec![operand]);
        } else if let Some(group) = groups.last_mut() {
            group.push(operand);
        }
    }
    groups
}

/// The value of a chain as `reading` groups it, its operands' values combined with `and` and
/// `or`.
pub(crate) fn fold<T>(first: T, rest: Vec<(Op, T)>, reading: Reading, and: fn(T, T) -> T, or: fn(T, T) -> T) -> T {
    let apply = |op: Op, a: T, b: T| if op == Op::And { and(a, b) } else { or(a, b) };
    match reading {
        Reading::LeftToRight => rest.into_iter().fold(first, |acc, (op, v)| apply(op, acc, v)),
        Reading::AndFirst | Reading::OrFirst => {
            let (tight, loose) = if reading == Reading::AndFirst { (Op::And, Op::Or) } else { (Op::Or, Op::And) };
            let mut done = Vec::new();
            let mut current = first;
            for (op, v) in rest {
                if op == tight {
                    current = apply(tight, current, v);
                } else {
                    done.push(current);
                    current = v;
                }
            }
            done.into_iter().fold(current, |acc, v| apply(loose, acc, v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_group_between_the_loose_operator() {
        let rest = vec![(Op::Or, 2), (Op::And, 3), (Op::And, 4), (Op::Or, 5)];
        assert_eq!(groups(1, rest.clone(), Op::Or), vec![vec![1], vec![2, 3, 4], vec![5]]);
        assert_eq!(groups(1, rest, Op::And), vec![vec![1, 2], vec![3], vec![4, 5]]);
        assert_eq!(readings(false), &[Reading::AndFirst]);
        assert_eq!(readings(true).len(), 3);
    }

    #[test]
    fn a_chain_folds_as_each_reading_groups_it() {
        // true OR false AND false: true AND first, false left to right, true OR first.
        let rest = vec![(Op::Or, false), (Op::And, false)];
        fn and(a: bool, b: bool) -> bool {
            a && b
        }
        fn or(a: bool, b: bool) -> bool {
            a || b
        }
        assert!(fold(true, rest.clone(), Reading::AndFirst, and, or));
        assert!(!fold(true, rest.clone(), Reading::LeftToRight, and, or));
        assert!(!fold(true, rest, Reading::OrFirst, and, or));
    }
}
