//! The abstract evaluation at the period of a burst. Each node evaluates to one abstract value
//! or, for an array of time series, to one per member; operators apply member by member as
//! CloudWatch applies `METRICS() / 100`. Recursion follows the tree, whose depth the parser
//! bounds.

use super::Value;
use super::parse::{BinOp, Node};

/// [`Value`] with one more fact inside the evaluation: a free value known to be positive
/// (`PERIOD(m1)`), by which a rising value may be multiplied or divided and still rise.
#[derive(Clone, Debug, PartialEq)]
enum V {
    U,
    C(f64),
    F,
    FPos,
    X(String),
}

use V::{C, F, FPos, U, X};

#[derive(Clone, Debug, PartialEq)]
enum Abs {
    One(V),
    Many(Vec<V>),
}

use Abs::{Many, One};

type Env<'a> = &'a dyn Fn(&str) -> Option<Value>;

pub(super) fn during_burst(root: &Node, env: Env<'_>) -> Value {
    let v = match eval(root, env) {
        One(v) => v,
        Many(_) => X(format!("{}: an array of time series, and an alarm watches one", form(root))),
    };
    match v {
        U => Value::Unbounded,
        C(c) if c.is_finite() => Value::Constant(c + 0.0),
        C(c) => Value::Undecidable(format!("the value {c} is not a finite number")),
        F | FPos => Value::Free,
        X(why) => Value::Undecidable(why),
    }
}

pub(super) fn collect_ids<'a>(node: &'a Node, ids: &mut Vec<&'a str>) {
    match node {
        Node::Id(id) => {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
        Node::Call { args: items, .. } | Node::Array(items) => items.iter().for_each(|item| collect_ids(item, ids)),
        Node::Group(inner) | Node::Neg(inner) => collect_ids(inner, ids),
        Node::Chain { first, rest } => {
            collect_ids(first, ids);
            rest.iter().for_each(|(_, operand)| collect_ids(operand, ids));
        }
        Node::Number(_) | Node::Str { .. } | Node::Keyword(_) | Node::Insights(_) => {}
    }
}

/// How a reason names a form: as written, shortened; a call with a string argument (a SEARCH)
/// or a long one as `NAME(…)`.
fn form(node: &Node) -> String {
    let text = node.to_string();
    if let Node::Call { name, args } = node
        && (text.chars().count() > 60 || args.iter().any(|arg| matches!(arg, Node::Str { .. })))
    {
        return format!("{name}(…)");
    }
    short(text)
}

fn short(text: String) -> String {
    if text.chars().count() <= 60 { text } else { format!("{}…", text.chars().take(57).collect::<String>()) }
}

fn from_value(id: &str, value: Option<Value>) -> V {
    match value {
        Some(Value::Unbounded) => U,
        Some(Value::Constant(c)) if c.is_finite() => C(c),
        Some(Value::Constant(c)) => X(format!("{id} is given the value {c}, which is not a finite number")),
        Some(Value::Free) => F,
        Some(Value::Undecidable(why)) => X(why),
        None => X(format!("no query defines the id {id}")),
    }
}

fn eval(node: &Node, env: Env<'_>) -> Abs {
    match node {
        Node::Number(x) => One(C(*x)),
        Node::Id(id) => One(from_value(id, env(id))),
        Node::Str { .. } => One(X(format!("{}: a string is not a time series", form(node)))),
        Node::Keyword(word) => One(X(format!("{word} is a keyword, not a time series"))),
        Node::Call { name, args } => call(name, args, node, env),
        Node::Array(items) => {
            let mut members = Vec::new();
            for item in items {
                match eval(item, env) {
                    One(v) => members.push(v),
                    Many(vs) => members.extend(vs),
                }
            }
            Many(members)
        }
        Node::Group(inner) => eval(inner, env),
        Node::Neg(inner) => negation(inner, node, env),
        Node::Chain { first, rest } => chain(first, rest, node, env),
        Node::Insights(_) => One(X("a Metrics Insights query (SELECT …): orgwatch judges metric math only".to_owned())),
    }
}

fn map(abs: Abs, f: impl Fn(V) -> V) -> Abs {
    match abs {
        One(v) => One(f(v)),
        Many(vs) => Many(vs.into_iter().map(f).collect()),
    }
}

fn both_undecidable(a: &Abs, b: &Abs) -> bool {
    matches!((a, b), (One(X(_)), One(X(_))))
}

fn negate(v: V, node: &Node) -> V {
    match v {
        U => X(format!("{}: falls as the count rises", form(node))),
        C(c) => C(-c),
        F | FPos => F,
        x @ X(_) => x,
    }
}

fn negation(inner: &Node, node: &Node, env: Env<'_>) -> Abs {
    // `-a ^ b`: unary minus may bind tighter than `^` too. Each operand is evaluated once,
    // so nested forms cost no more than the tree's size.
    if let Node::Chain { first, rest } = inner
        && let [(BinOp::Pow, exponent)] = rest.as_slice()
    {
        let (base, power) = (eval(first, env), eval(exponent, env));
        let ours = map(binary(BinOp::Pow, base.clone(), power.clone(), &|| form(inner)), |v| negate(v, node));
        let other = binary(BinOp::Pow, map(base, |v| negate(v, node)), power, &|| form(node));
        if other != ours && !both_undecidable(&ours, &other) {
            return One(X(format!("{}: AWS does not document whether unary minus or ^ binds tighter, and the readings differ", form(node))));
        }
        return ours;
    }
    map(eval(inner, env), |v| negate(v, node))
}

/// An operand of a chain, evaluated, with the operator before it (ignored for the first).
struct Term<'a> {
    op: BinOp,
    node: &'a Node,
    value: Abs,
}

fn chain(first: &Node, rest: &[(BinOp, Node)], node: &Node, env: Env<'_>) -> Abs {
    let level = rest[0].0.level();
    if level == 2 && rest.len() > 1 {
        return One(X(format!("{}: a chain of comparisons, whose grouping AWS does not document", form(node))));
    }
    if level == 5 && rest.len() > 1 {
        return One(X(format!("{}: AWS does not document how a ^ b ^ c groups", form(node))));
    }
    let operands = std::iter::once((BinOp::Or, first)).chain(rest.iter().map(|(op, operand)| (*op, operand)));
    let bare_and = |n: &Node| n.chain_level() == Some(1);
    if level != 0 || !(bare_and(first) || rest.iter().any(|(_, n)| bare_and(n))) {
        let terms: Vec<Term<'_>> = operands.map(|(op, node)| Term { op, node, value: eval(node, env) }).collect();
        return fold(&terms);
    }
    // `a OR b AND c`: AND and OR may also share one level, read left to right. The members
    // of each AND are evaluated once and folded both ways.
    let mut terms = Vec::new();
    let mut flat = Vec::new();
    for (op, operand) in operands {
        match operand {
            Node::Chain { first: head, rest: tail } if bare_and(operand) => {
                let mut members = vec![Term { op: BinOp::And, node: head, value: eval(head, env) }];
                members.extend(tail.iter().map(|(o, n)| Term { op: *o, node: n, value: eval(n, env) }));
                terms.push(Term { op, node: operand, value: fold(&members) });
                members[0].op = op;
                flat.extend(members);
            }
            _ => {
                let value = eval(operand, env);
                terms.push(Term { op, node: operand, value: value.clone() });
                flat.push(Term { op, node: operand, value });
            }
        }
    }
    let ours = fold(&terms);
    let other = fold(&flat);
    if other != ours && !both_undecidable(&ours, &other) {
        return One(X(format!("{}: AWS does not document whether AND binds tighter than OR, and the readings differ", form(node))));
    }
    ours
}

/// The terms left to right; a reason names the part read so far.
fn fold(terms: &[Term<'_>]) -> Abs {
    let mut acc = terms[0].value.clone();
    for i in 1..terms.len() {
        if matches!(acc, One(X(_))) {
            return acc;
        }
        let name = || {
            let mut text = terms[0].node.to_string();
            for term in &terms[1..=i] {
                text.push_str(&format!(" {} {}", term.op.text(), term.node));
            }
            short(text)
        };
        acc = binary(terms[i].op, acc, terms[i].value.clone(), &name);
    }
    acc
}

fn binary(op: BinOp, a: Abs, b: Abs, name: &dyn Fn() -> String) -> Abs {
    let arithmetic = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow);
    match (a, b) {
        (One(a), One(b)) => One(scalar(op, a, b, name)),
        (Many(vs), One(b)) if arithmetic => Many(vs.into_iter().map(|a| scalar(op, a, b.clone(), name)).collect()),
        (One(a), Many(vs)) if arithmetic => Many(vs.into_iter().map(|b| scalar(op, a.clone(), b, name)).collect()),
        _ => One(X(format!("{}: an operator between two arrays, or a comparison of an array", name()))),
    }
}

fn constant(x: f64) -> Result<V, &'static str> {
    if x.is_finite() { Ok(C(x)) } else { Err("the arithmetic leaves the finite numbers") }
}

fn truth(v: &V) -> Option<bool> {
    match v {
        U => Some(true),
        C(c) => Some(*c != 0.0),
        _ => None,
    }
}

fn scalar(op: BinOp, a: V, b: V, name: &dyn Fn() -> String) -> V {
    if let X(_) = a {
        return a;
    }
    if let X(_) = b {
        return b;
    }
    let result: Result<V, &str> = match op {
        BinOp::Add => match (&a, &b) {
            (U, _) | (_, U) => Ok(U),
            (C(x), C(y)) => constant(x + y),
            _ => Ok(F),
        },
        BinOp::Sub => match (&a, &b) {
            (U, U) => Err("a difference of two values that both rise with the count"),
            (U, _) => Ok(U),
            (_, U) => Err("falls as the count rises"),
            (C(x), C(y)) => constant(x - y),
            _ => Ok(F),
        },
        BinOp::Mul => match (&a, &b) {
            (U, U) => Ok(U),
            (U, C(k)) | (C(k), U) if *k > 0.0 => Ok(U),
            (U, C(k)) | (C(k), U) if *k == 0.0 => Ok(C(0.0)),
            (U, C(_)) | (C(_), U) => Err("a negative factor makes it fall as the count rises"),
            (U, FPos) | (FPos, U) => Ok(U),
            (U, _) | (_, U) => Err("a product with another metric, whose sign is unknown"),
            (C(x), C(y)) => constant(x * y),
            (FPos, FPos) => Ok(FPos),
            (FPos, C(k)) | (C(k), FPos) if *k > 0.0 => Ok(FPos),
            _ => Ok(F),
        },
        BinOp::Div => match (&a, &b) {
            (U, C(k)) if *k > 0.0 => Ok(U),
            (U, C(k)) | (C(_), C(k)) | (F | FPos, C(k)) if *k == 0.0 => Err("divides by zero, and CloudWatch drops such a point"),
            (U, C(_)) => Err("a negative divisor makes it fall as the count rises"),
            (U, FPos) => Ok(U),
            (U, U) => Err("a ratio of two values that both rise with the count"),
            (U, _) => Err("divided by another metric, whose sign is unknown"),
            (_, U) => Err("shrinks toward 0 as the count rises"),
            (C(x), C(y)) => constant(x / y),
            (FPos, FPos) => Ok(FPos),
            (FPos, C(k)) | (C(k), FPos) if *k > 0.0 => Ok(FPos),
            _ => Ok(F),
        },
        BinOp::Pow => match (&a, &b) {
            (U, C(k)) if *k > 0.0 => Ok(U),
            (U, C(_)) => Err("a power with an exponent of 0 or less does not rise"),
            (U, _) => Err("a power of the count by another value"),
            (_, U) => Err("a power with the count as the exponent"),
            (C(x), C(y)) => constant(x.powf(*y)),
            _ => Ok(F),
        },
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let holds = |x: f64, y: f64| match op {
                BinOp::Eq => x == y,
                BinOp::Ne => x != y,
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                _ => x >= y,
            };
            // A rising value eventually exceeds any finite one, so compares as +∞ against it.
            match (&a, &b) {
                (U, U) => Err("compares two values that both rise with the count"),
                (U, _) => Ok(C(if holds(f64::INFINITY, 0.0) { 1.0 } else { 0.0 })),
                (_, U) => Ok(C(if holds(0.0, f64::INFINITY) { 1.0 } else { 0.0 })),
                (C(x), C(y)) => Ok(C(if holds(*x, *y) { 1.0 } else { 0.0 })),
                _ => Ok(F),
            }
        }
        BinOp::And => match (truth(&a), truth(&b)) {
            (Some(false), _) | (_, Some(false)) => Ok(C(0.0)),
            (Some(true), Some(true)) => Ok(C(1.0)),
            _ => Ok(F),
        },
        BinOp::Or => match (truth(&a), truth(&b)) {
            (Some(true), _) | (_, Some(true)) => Ok(C(1.0)),
            (Some(false), Some(false)) => Ok(C(0.0)),
            _ => Ok(F),
        },
    };
    result.unwrap_or_else(|why| X(format!("{}: {why}", name())))
}

fn call(name: &str, args: &[Node], node: &Node, env: Env<'_>) -> Abs {
    let named = || form(node);
    let arity = |counts: &[usize]| -> Option<Abs> {
        if counts.contains(&args.len()) {
            return None;
        }
        let wanted: Vec<String> = counts.iter().map(usize::to_string).collect();
        Some(One(X(format!("{}: {name} takes {} arguments", named(), wanted.join(" or ")))))
    };
    match name {
        "FILL" => arity(&[2]).unwrap_or_else(|| fill(args, node, env)),
        "SUM" | "AVG" | "MAX" | "MIN" => arity(&[1]).unwrap_or_else(|| One(aggregate(name, eval(&args[0], env), node))),
        "STDDEV" => arity(&[1]).unwrap_or_else(|| {
            let all_free = |vs: &[V]| vs.iter().all(|v| matches!(v, F | FPos));
            match eval(&args[0], env) {
                One(X(why)) => One(X(why)),
                One(v) if all_free(std::slice::from_ref(&v)) => One(F),
                Many(vs) if all_free(&vs) => One(F),
                _ => One(X(format!("{}: orgwatch does not model the spread of the metric", named()))),
            }
        }),
        "ABS" | "CEIL" | "FLOOR" | "LOG" | "LOG10" | "RUNNING_SUM" => {
            arity(&[1]).unwrap_or_else(|| map(eval(&args[0], env), |v| elementwise(name, v, node)))
        }
        "TIME_SERIES" => arity(&[1]).unwrap_or_else(|| match eval(&args[0], env) {
            One(v) => One(v),
            Many(_) => One(X(format!("{}: TIME_SERIES takes a scalar", named()))),
        }),
        "IF" => arity(&[2, 3]).unwrap_or_else(|| if_(args, node, env)),
        "FIRST" | "LAST" => arity(&[1]).unwrap_or_else(|| match eval(&args[0], env) {
            Many(vs) if !vs.is_empty() => One(if name == "FIRST" { vs[0].clone() } else { vs[vs.len() - 1].clone() }),
            One(X(why)) => One(X(why)),
            _ => One(X(format!("{}: orgwatch does not know the members of that array", named()))),
        }),
        // The period in seconds, and the timestamp's minute, hour…: fixed by the series'
        // timestamps, whatever its values. PERIOD is moreover positive.
        "PERIOD" | "MINUTE" | "HOUR" | "DAY" | "DATE" | "MONTH" | "YEAR" | "EPOCH" => arity(&[1]).unwrap_or_else(|| match eval(&args[0], env) {
            One(X(why)) => One(X(why)),
            One(_) => One(if name == "PERIOD" { FPos } else { F }),
            Many(_) => One(X(format!("{}: {name} takes one time series", named()))),
        }),
        "RATE" | "DIFF" | "DIFF_TIME" | "DATAPOINT_COUNT" | "METRIC_COUNT" | "REMOVE_EMPTY" | "SLICE" | "SORT" | "CONCAT" | "SERVICE_QUOTA" => {
            transform(name, args, node, env)
        }
        "METRICS" | "SEARCH" | "INSIGHT_RULE_METRIC" | "LAMBDA" | "DB_PERF_INSIGHTS" | "ANOMALY_DETECTION_BAND" => {
            One(X(format!("{}: {name} reads metrics or models orgwatch does not see", named())))
        }
        _ => One(X(format!("unknown function {name}"))),
    }
}

fn fill(args: &[Node], node: &Node, env: Env<'_>) -> Abs {
    let filler = match &args[1] {
        Node::Keyword(word) if word == "REPEAT" || word == "LINEAR" => None,
        Node::Keyword(word) => return One(X(format!("{}: FILL knows no keyword {word}", form(node)))),
        other => match eval(other, env) {
            One(v) => Some(v),
            Many(_) => return One(X(format!("{}: orgwatch does not judge FILL by an array", form(node)))),
        },
    };
    // During a burst the metric has data, so FILL returns it; a free series may lack data,
    // and then the filler shows.
    map(eval(&args[0], env), |v| match (v, &filler) {
        (F | FPos, None | Some(C(_) | F | FPos)) => F,
        (F | FPos, Some(X(why))) => X(why.clone()),
        (F | FPos, Some(_)) => X(format!("{}: where the other metric has no data, the filler moves with the burst", form(node))),
        (v, _) => v,
    })
}

fn aggregate(name: &str, arg: Abs, node: &Node) -> V {
    match arg {
        Many(vs) => {
            if let Some(x) = vs.iter().find(|v| matches!(v, X(_))) {
                return x.clone();
            }
            let constants: Option<Vec<f64>> = vs.iter().map(|v| if let C(c) = v { Some(*c) } else { None }).collect();
            let rising = vs.contains(&U);
            match name {
                "SUM" | "AVG" | "MAX" if rising => U,
                "MIN" => {
                    let rest: Vec<&V> = vs.iter().filter(|v| **v != U).collect();
                    let least = rest.iter().map(|v| if let C(c) = v { Some(*c) } else { None }).collect::<Option<Vec<f64>>>();
                    match least {
                        _ if rest.is_empty() => U,
                        Some(cs) => C(cs.into_iter().fold(f64::INFINITY, f64::min)),
                        None => F,
                    }
                }
                _ => match constants {
                    Some(cs) if !cs.is_empty() => {
                        let total: f64 = cs.iter().sum();
                        let value = match name {
                            "SUM" => total,
                            "AVG" => total / cs.len() as f64,
                            _ => cs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        };
                        if value.is_finite() { C(value) } else { X(format!("{}: the arithmetic leaves the finite numbers", form(node))) }
                    }
                    _ => F,
                },
            }
        }
        // One series: a scalar over every point of the time range the alarm reads. Its sum,
        // average and maximum include the burst's point among finitely many finite ones.
        One(v) => match v {
            X(_) => v,
            U if name != "MIN" => U,
            U => X(format!("{}: the least point of one series over the whole time range, which a burst does not raise", form(node))),
            F | FPos => F,
            C(_) => X(format!("{}: spans the whole time range, where orgwatch knows only the burst's point", form(node))),
        },
    }
}

fn elementwise(name: &str, v: V, node: &Node) -> V {
    match (name, v) {
        (_, X(why)) => X(why),
        (_, F | FPos) => F,
        // Each is unbounded above as its argument is: |x|, ⌈x⌉, ⌊x⌋, ln x and a running
        // sum that includes the burst's point.
        (_, U) => U,
        ("ABS", C(c)) => C(c.abs()),
        ("CEIL", C(c)) => C(c.ceil()),
        ("FLOOR", C(c)) => C(c.floor()),
        ("LOG" | "LOG10", C(c)) if c > 0.0 => C(if name == "LOG" { c.ln() } else { c.log10() }),
        ("LOG" | "LOG10", C(_)) => X(format!("{}: the logarithm of a number not above 0", form(node))),
        (_, C(_)) => X(format!("{}: adds up points before the burst, which orgwatch does not know", form(node))),
    }
}

fn if_(args: &[Node], node: &Node, env: Env<'_>) -> Abs {
    let one = |n: &Node| match eval(n, env) {
        One(v) => v,
        Many(_) => X(format!("{}: orgwatch does not judge IF over arrays", form(node))),
    };
    let condition = one(&args[0]);
    if let X(_) = condition {
        return One(condition);
    }
    let otherwise = args.get(2).map(one);
    One(match truth(&condition) {
        Some(true) => one(&args[1]),
        Some(false) => otherwise.unwrap_or_else(|| X(format!("{}: the condition is false during a burst and IF has no false branch, so the point is dropped", form(node)))),
        None => match (one(&args[1]), otherwise) {
            (x @ X(_), _) | (_, Some(x @ X(_))) => x,
            (F | FPos, None) => F,
            (U, Some(U)) => U,
            (C(a), Some(C(b))) if a == b => C(a),
            (C(_) | F | FPos, Some(C(_) | F | FPos)) => F,
            _ => X(format!("{}: the branch taken depends on other metrics", form(node))),
        },
    })
}

/// The documented functions orgwatch does not model: free when they read only other metrics,
/// undecidable when they read the filter's metric.
fn transform(name: &str, args: &[Node], node: &Node, env: Env<'_>) -> Abs {
    let mut values = Vec::new();
    for arg in args {
        if matches!(arg, Node::Keyword(_) | Node::Str { .. }) {
            continue;
        }
        match eval(arg, env) {
            One(v) => values.push(v),
            Many(vs) => values.extend(vs),
        }
    }
    if let Some(x) = values.iter().find(|v| matches!(v, X(_))) {
        return One(x.clone());
    }
    let reads_free = values.iter().any(|v| matches!(v, F | FPos));
    if reads_free && values.iter().all(|v| matches!(v, F | FPos | C(_))) {
        return One(F);
    }
    One(X(format!("{}: orgwatch does not model {name} of the metric", form(node))))
}
