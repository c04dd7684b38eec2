use super::*;

const CHILD_ARN: &str = "arn:aws:cloudwatch:us-east-1:111111111111:alarm:c";
const O_ARN: &str = "arn:aws:cloudwatch:us-east-1:111111111111:alarm:o";
const P_ARN: &str = "arn:aws:cloudwatch:us-east-1:111111111111:alarm:p";

/// An alarm's identity: the name, whether written as a name or as an ARN.
fn id_of(reference: &str) -> String {
    reference.rsplit_once(":alarm:").map_or(reference, |(_, name)| name).to_owned()
}

/// The identity function with the alarms named in `in_alarm` (by name or ARN) in ALARM.
fn identity(in_alarm: &[&str]) -> impl Fn(&str) -> Ref {
    let in_alarm: Vec<String> = in_alarm.iter().map(|r| id_of(r)).collect();
    move |reference: &str| {
        let id = id_of(reference);
        if in_alarm.contains(&id) { Ref::InAlarm } else { Ref::Other(id) }
    }
}

/// (rule, expected column, part of the message)
#[test]
fn parse_errors_say_where_and_why() {
    let too_long = "TRUE OR ".repeat(MAX_RULE_LEN / 8) + "TRUE";
    let too_deep = "(".repeat(MAX_NESTING + 1) + "TRUE" + &")".repeat(MAX_NESTING + 1);
    let too_many_nots = "NOT ".repeat(MAX_NESTING + 1) + "TRUE";
    let deep_mixed = "NOT (".repeat(MAX_NESTING / 2) + "NOT TRUE" + &")".repeat(MAX_NESTING / 2);
    let cases: Vec<(&str, usize, &str)> = vec![
        // the rule as a whole
        ("", 1, "the rule is empty"),
        (" \n\t ", 1, "the rule is empty"),
        (&too_long, MAX_RULE_LEN + 1, "the rule is 10244 characters long; CloudWatch accepts at most 10240"),
        (&too_deep, MAX_NESTING + 1, "nesting deeper than 32 levels of parentheses and NOT"),
        (&too_many_nots, 4 * MAX_NESTING + 1, "nesting deeper than 32"),
        (&deep_mixed, 5 * (MAX_NESTING / 2) + 1, "nesting deeper than 32"),
        // parentheses
        ("(ALARM(a)", 10, "expected AND, OR or ')' to close the '(' at column 1, found the end of the rule"),
        ("((ALARM(a)) OR OK(b)", 21, "to close the '(' at column 1"),
        ("ALARM(a))", 9, "unmatched ')'"),
        ("(", 2, "expected a condition after '(', found the end of the rule"),
        ("()", 2, "expected a condition after '(', found ')'"),
        // words
        ("ALARMS(a)", 1, "unknown word 'ALARMS': expected ALARM, OK, INSUFFICIENT_DATA, AT_LEAST, TRUE, FALSE, NOT or '('"),
        ("my-alarm", 1, "unknown word 'my'"),
        ("alarm(a)", 1, "keywords are upper case: write ALARM, not alarm"),
        ("ALARM(a) and ALARM(b)", 10, "keywords are upper case: write AND, not and"),
        ("ALARM(a) Or ALARM(b)", 10, "write OR, not Or"),
        ("not ALARM(a)", 1, "write NOT, not not"),
        ("True", 1, "write TRUE, not True"),
        ("TRUE FALSE", 6, "expected AND or OR between conditions, found 'FALSE'"),
        ("ALARM(a) ALARM(b)", 10, "expected AND or OR between conditions, found 'ALARM'"),
        ("ALARM(a) && ALARM(b)", 10, "expected AND or OR between conditions, found '&'"),
        ("\"a\"", 1, "expected a condition, found '\"'"),
        // operators without operands
        ("ALARM(a) AND", 13, "expected a condition after AND, found the end of the rule"),
        ("ALARM(a) OR OR ALARM(b)", 13, "expected a condition after OR, found 'OR'"),
        ("AND ALARM(a)", 1, "expected a condition, found 'AND'"),
        ("NOT", 4, "expected a condition after NOT, found the end of the rule"),
        ("ALARM(a) OR NOT )", 17, "expected a condition after NOT, found ')'"),
        // state functions
        ("ALARM", 6, "expected '(' after ALARM, found the end of the rule"),
        ("OK a", 4, "expected '(' after OK, found 'a'"),
        ("ALARM()", 7, "expected an alarm name or ARN, found ')'"),
        ("INSUFFICIENT_DATA(", 19, "expected an alarm name or ARN, found the end of the rule"),
        ("ALARM(a", 8, "expected ')' after the alarm name, found the end of the rule"),
        ("ALARM(my alarm)", 10, "expected ')' after the alarm name, found 'alarm' (quote a name that holds spaces"),
        ("ALARM(a, b)", 8, "expected ')' after the alarm name, found ','"),
        ("ALARM(\"\")", 7, "the quoted alarm name is empty"),
        ("ALARM(\"a b) OR TRUE", 7, "the quoted alarm name is never closed"),
        ("ALARM(\"a\" \"b\")", 11, "expected ')' after the alarm name, found '\"'"),
        ("ALARM(\"a\\\"b\")", 9, "a backslash in an alarm name: CloudWatch does not document escapes"),
        ("ALARM(a\\b)", 8, "a backslash in an alarm name"),
        ("ALARM(\\a)", 7, "a backslash"),
        // characters are counted, not bytes
        ("ALARM(é) AND ÄLARM(b)", 14, "expected a condition after AND, found 'Ä'"),
        ("ALARM(\"😀 alarm\") OR", 20, "expected a condition after OR, found the end of the rule"),
        ("OK(naïve\u{a0}x)", 9, "expected ')' after the alarm name, found '\u{a0}'"),
        // AT_LEAST
        ("AT_LEAST", 9, "expected '(' after AT_LEAST, found the end of the rule"),
        ("AT_LEAST(0, ALARM, (a, b))", 10, "AT_LEAST needs a count of at least 1"),
        ("AT_LEAST(3, ALARM, (a, b))", 10, "AT_LEAST needs 3 alarms in the state but lists only 2"),
        ("AT_LEAST(101%, ALARM, (a))", 10, "AT_LEAST needs a percentage between 1% and 100%, not 101%"),
        ("AT_LEAST(0%, OK, (a))", 10, "between 1% and 100%, not 0%"),
        ("AT_LEAST(99999999999999999999999, ALARM, (a))", 10, "the threshold of AT_LEAST is too large"),
        ("AT_LEAST(x, ALARM, (a))", 10, "expected a count or a percentage (such as 2 or 50%) as the threshold of AT_LEAST, found 'x'"),
        ("AT_LEAST(-1, ALARM, (a))", 10, "expected a count or a percentage"),
        ("AT_LEAST(1.5, ALARM, (a))", 11, "expected ',' after the threshold of AT_LEAST, found '.'"),
        ("AT_LEAST(50 %, ALARM, (a))", 13, "expected ',' after the threshold of AT_LEAST, found '%'"),
        ("AT_LEAST(1, ALARMS, (a))", 13, "expected ALARM, OK, INSUFFICIENT_DATA or NOT and one of them as the state of AT_LEAST, found 'ALARMS'"),
        ("AT_LEAST(1, (a))", 13, "as the state of AT_LEAST, found '('"),
        ("AT_LEAST(1, ok, (a))", 13, "write OK, not ok"),
        ("AT_LEAST(1, NOT TRUE, (a))", 17, "expected ALARM, OK or INSUFFICIENT_DATA after NOT, found 'TRUE'"),
        ("AT_LEAST(1, NOT alarm, (a))", 17, "write ALARM, not alarm"),
        ("AT_LEAST(1, NOTALARM, (a))", 13, "found 'NOTALARM'"),
        ("AT_LEAST(1, ALARM)", 18, "expected ',' after the state of AT_LEAST, found ')'"),
        ("AT_LEAST(1, ALARM, a)", 20, "expected '(' to open the list of alarms of AT_LEAST, found 'a'"),
        ("AT_LEAST(1, ALARM, ())", 21, "expected an alarm name or ARN, found ')'"),
        ("AT_LEAST(1, ALARM, (a,))", 23, "expected an alarm name or ARN, found ')'"),
        ("AT_LEAST(1, ALARM, (a b))", 23, "expected ',' or ')' in the list of alarms of AT_LEAST, found 'b'"),
        ("AT_LEAST(1, ALARM, (a)", 23, "expected ')' to close AT_LEAST(…), found the end of the rule"),
        ("AT_LEAST(1, ALARM, (a), b)", 23, "expected ')' to close AT_LEAST(…), found ','"),
    ];
    assert!(cases.len() >= 25);
    let mut wrong = Vec::new();
    for (text, column, part) in &cases {
        match AlarmRule::parse(text) {
            Ok(rule) => wrong.push(format!("{text:?}: parsed as {rule}, expected an error")),
            Err(e) => {
                if !e.message.contains(part) || e.column != *column {
                    let at: String = text.chars().skip(e.column - 1).take(12).collect();
                    wrong.push(format!("{text:?}\n   expected {column} {part:?}\n   got {} {:?} pointing at {at:?}", e.column, e.message));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn parse_error_display_reads_as_a_sentence() {
    let err = AlarmRule::parse("ALARM(a) AND").unwrap_err();
    assert_eq!(err.to_string(), "expected a condition after AND, found the end of the rule at column 13");
}

#[test]
fn limits_are_inclusive() {
    let longest = "TRUE OR ".repeat((MAX_RULE_LEN - 4) / 8) + "TRUE";
    let longest = longest.clone() + &" ".repeat(MAX_RULE_LEN - longest.len());
    assert_eq!(longest.chars().count(), MAX_RULE_LEN);
    assert!(AlarmRule::parse(&longest).is_ok());
    let multibyte = format!("OK(\"{}\")", "é".repeat(MAX_RULE_LEN - 6));
    assert_eq!(multibyte.chars().count(), MAX_RULE_LEN);
    assert!(AlarmRule::parse(&multibyte).is_ok(), "characters, not bytes, are counted");
    let deepest = "(".repeat(MAX_NESTING) + "TRUE" + &")".repeat(MAX_NESTING);
    assert!(AlarmRule::parse(&deepest).is_ok());
    let deepest_not = "NOT ".repeat(MAX_NESTING) + "TRUE";
    assert!(AlarmRule::parse(&deepest_not).is_ok());
    // Far past the limit, nothing recurses: the refusal comes at the 33rd level.
    let hostile = "(".repeat(MAX_RULE_LEN);
    assert_eq!(AlarmRule::parse(&hostile).unwrap_err().column, MAX_NESTING + 1);
    let hostile = "NOT ".repeat(MAX_RULE_LEN / 4);
    assert_eq!(AlarmRule::parse(&hostile).unwrap_err().column, 4 * MAX_NESTING + 1);
}

/// (rule, alarms() in order, canonical form, relies on precedence)
#[test]
fn parses_as_cloudwatch_documents() {
    let arn = "arn:aws:cloudwatch:us-east-1:111111111111:alarm:unauthorized-api-calls";
    let bare_arn = format!("ALARM({arn}) OR OK(\"{arn}\")");
    let bare_arn_canonical = format!("ALARM(\"{arn}\") OR OK(\"{arn}\")");
    let cases: Vec<(&str, Vec<&str>, &str, bool)> = vec![
        ("ALARM(child)", vec!["child"], "ALARM(\"child\")", false),
        ("ALARM(\"my alarm\") OR OK(other)", vec!["my alarm", "other"], "ALARM(\"my alarm\") OR OK(\"other\")", false),
        ("  ALARM( a )AND NOT(INSUFFICIENT_DATA (b))  ", vec!["a", "b"], "ALARM(\"a\") AND NOT (INSUFFICIENT_DATA(\"b\"))", false),
        ("TRUE", vec![], "TRUE", false),
        ("NOT NOT FALSE", vec![], "NOT NOT FALSE", false),
        ("((TRUE))", vec![], "((TRUE))", false),
        ("ALARM(a) OR OK(a) OR ALARM(b) AND ALARM(a)", vec!["a", "b"], "ALARM(\"a\") OR OK(\"a\") OR ALARM(\"b\") AND ALARM(\"a\")", true),
        ("ALARM(a) AND (OK(b) OR OK(c))", vec!["a", "b", "c"], "ALARM(\"a\") AND (OK(\"b\") OR OK(\"c\"))", false),
        (&bare_arn, vec![arn], &bare_arn_canonical, false),
        ("ALARM(\"cpu (high), prod\")", vec!["cpu (high), prod"], "ALARM(\"cpu (high), prod\")", false),
        ("ALARM(\" padded \")", vec![" padded "], "ALARM(\" padded \")", false),
        ("ALARM(Case) OR ALARM(case)", vec!["Case", "case"], "ALARM(\"Case\") OR ALARM(\"case\")", false),
        ("ALARM(AND) OR OK(NOT)", vec!["AND", "NOT"], "ALARM(\"AND\") OR OK(\"NOT\")", false),
        ("ALARM(é-alarm)", vec!["é-alarm"], "ALARM(\"é-alarm\")", false),
        ("ALARM(a%b:c/d*e)", vec!["a%b:c/d*e"], "ALARM(\"a%b:c/d*e\")", false),
        (
            "(ALARM(\"CPUUtilizationTooHigh\") OR \nALARM(\"DiskReadOpsTooHigh\")) AND \nOK(\"NetworkOutTooHigh\")",
            vec!["CPUUtilizationTooHigh", "DiskReadOpsTooHigh", "NetworkOutTooHigh"],
            "(ALARM(\"CPUUtilizationTooHigh\") OR ALARM(\"DiskReadOpsTooHigh\")) AND OK(\"NetworkOutTooHigh\")",
            false,
        ),
        (
            "ALARM(CPUUtilizationTooHigh) AND NOT ALARM(DeploymentInProgress)",
            vec!["CPUUtilizationTooHigh", "DeploymentInProgress"],
            "ALARM(\"CPUUtilizationTooHigh\") AND NOT ALARM(\"DeploymentInProgress\")",
            false,
        ),
        (
            "AT_LEAST(2, ALARM, (a, \"b c\", arn:aws:cloudwatch:us-east-1:1:alarm:d))",
            vec!["a", "b c", "arn:aws:cloudwatch:us-east-1:1:alarm:d"],
            "AT_LEAST(2, ALARM, (\"a\", \"b c\", \"arn:aws:cloudwatch:us-east-1:1:alarm:d\"))",
            false,
        ),
        ("AT_LEAST(50%,NOT  OK,(a,b))", vec!["a", "b"], "AT_LEAST(50%, NOT OK, (\"a\", \"b\"))", false),
        ("AT_LEAST ( 100% , INSUFFICIENT_DATA , ( a ) )", vec!["a"], "AT_LEAST(100%, INSUFFICIENT_DATA, (\"a\"))", false),
        ("OK(x) OR AT_LEAST(1, NOT ALARM, (y, x))", vec!["x", "y"], "OK(\"x\") OR AT_LEAST(1, NOT ALARM, (\"y\", \"x\"))", false),
        ("NOT ALARM(a) AND ALARM(b) OR FALSE", vec!["a", "b"], "NOT ALARM(\"a\") AND ALARM(\"b\") OR FALSE", true),
        ("NOT (ALARM(a) AND ALARM(b)) OR FALSE", vec!["a", "b"], "NOT (ALARM(\"a\") AND ALARM(\"b\")) OR FALSE", false),
    ];
    let mut wrong = Vec::new();
    for (text, alarms, canonical, mixed) in &cases {
        match AlarmRule::parse(text) {
            Err(e) => wrong.push(format!("{text:?}: {e}")),
            Ok(rule) => {
                let shown = rule.to_string();
                if rule.alarms() != *alarms || shown != *canonical || rule.relies_on_precedence() != *mixed {
                    wrong.push(format!(
                        "{text:?}\n   expected {alarms:?} {canonical:?} {mixed}\n   got {:?} {shown:?} {}",
                        rule.alarms(),
                        rule.relies_on_precedence()
                    ));
                }
                match AlarmRule::parse(&shown) {
                    Ok(again) if again.to_string() == shown && again.alarms() == rule.alarms() => {}
                    other => wrong.push(format!("{shown:?} does not parse back: {other:?}")),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[derive(Debug)]
enum Expect {
    Always,
    /// The exact counterexample.
    NotAlways(&'static [(&'static str, State)]),
    /// A part of why.
    Undecidable(&'static str),
}
use Expect::{Always, NotAlways, Undecidable};

const A: State = State::Alarm;
const K: State = State::Ok;
const I: State = State::InsufficientData;

/// (rule, the references in ALARM, expected implication)
#[test]
fn implication_is_exact() {
    let tautologies = |n: usize| {
        let parts: Vec<String> = (1..=n).map(|i| format!("(ALARM(o{i}) OR NOT ALARM(o{i}))")).collect();
        format!("ALARM(c) AND {}", parts.join(" AND "))
    };
    let any_of_20 = (1..=19).map(|i| format!("ALARM(o{i})")).chain([CHILD_ARN.to_owned()].map(|a| format!("ALARM({a})"))).collect::<Vec<_>>().join(" OR ");
    let all_of_20 = (1..=19).map(|i| format!("ALARM(\"o{i}\")")).collect::<Vec<_>>().join(" AND ") + " AND ALARM(c)";
    let nested = "(ALARM(c) OR ALARM(root-login) OR (ALARM(cpu) AND ALARM(mem))) AND NOT ALARM(maintenance) AND NOT OK(c)";
    let name_and_arn = format!("ALARM(o) OR NOT ALARM({O_ARN})");
    let two_alarms = format!("ALARM(o) OR NOT ALARM({P_ARN})");
    let by_arn = format!("ALARM(\"{CHILD_ARN}\")");
    let child_twice = format!("AT_LEAST(2, ALARM, (c, {CHILD_ARN}, o))");
    let other_twice = format!("AT_LEAST(1, OK, (c, o, {O_ARN}))");
    let ten = tautologies(10);
    let twenty_four = tautologies(24);
    let cases: Vec<(&str, &[&str], Expect)> = vec![
        // one child
        ("ALARM(c)", &["c"], Always),
        ("OK(c)", &["c"], NotAlways(&[])),
        ("INSUFFICIENT_DATA(c)", &["c"], NotAlways(&[])),
        ("NOT OK(c)", &["c"], Always),
        ("NOT ALARM(c)", &["c"], NotAlways(&[])),
        ("TRUE", &["c"], Always),
        ("FALSE", &["c"], NotAlways(&[])),
        ("ALARM(o)", &["c"], NotAlways(&[("o", K)])),
        (&by_arn, &["c"], Always),
        // with others
        ("ALARM(c) OR ALARM(o)", &["c"], Always),
        ("ALARM(c) AND ALARM(o)", &["c"], NotAlways(&[("o", K)])),
        ("ALARM(c) AND NOT ALARM(o)", &["c"], NotAlways(&[("o", A)])),
        ("ALARM(c) OR (ALARM(o) AND OK(o))", &["c"], Always),
        ("ALARM(o) OR (ALARM(c) AND OK(o))", &["c"], NotAlways(&[("o", I)])),
        ("ALARM(c) AND (ALARM(o) OR OK(o) OR INSUFFICIENT_DATA(o))", &["c"], Always),
        ("ALARM(c) AND (ALARM(o) OR OK(o))", &["c"], NotAlways(&[("o", I)])),
        ("ALARM(c) AND (ALARM(o) OR NOT ALARM(o))", &["c"], Always),
        ("ALARM(c) AND (OK(o) OR INSUFFICIENT_DATA(p) OR NOT OK(o))", &["c"], Always),
        ("NOT (ALARM(c) AND OK(o))", &["c"], NotAlways(&[("o", K)])),
        ("NOT (OK(c) OR FALSE)", &["c"], Always),
        ("ALARM(c) OR ALARM(o) OR OK(o)", &["o"], Always),
        ("ALARM(c) AND ALARM(o)", &["c", "o"], Always),
        // a name and its ARN are one alarm; two ARNs are two
        (&name_and_arn, &["c"], Always),
        (&two_alarms, &["c"], NotAlways(&[("o", K), (P_ARN, A)])),
        // precedence: NOT binds tightest; AND over OR answered only where every grouping agrees
        ("NOT ALARM(o) AND ALARM(c)", &["c"], NotAlways(&[("o", A)])),
        ("ALARM(o) OR ALARM(c) AND FALSE", &["c"], NotAlways(&[("o", K)])),
        ("ALARM(c) AND ALARM(o) OR ALARM(c)", &["c"], Always),
        ("(ALARM(c) OR ALARM(o)) AND FALSE", &["c"], NotAlways(&[])),
        ("ALARM(c) OR (ALARM(o) AND FALSE)", &["c"], Always),
        ("ALARM(c) OR ALARM(o) AND FALSE", &["c"], Undecidable("depends on how AND and OR group")),
        ("ALARM(o) AND FALSE OR ALARM(c)", &["c"], Undecidable("depends on how AND and OR group")),
        ("OK(o) AND OK(p) OR ALARM(o) AND ALARM(p)", &["c"], NotAlways(&[("o", K), ("p", A)])),
        // AT_LEAST
        ("AT_LEAST(1, ALARM, (c, o, p))", &["c"], Always),
        ("AT_LEAST(2, ALARM, (c, o, p))", &["c"], NotAlways(&[("o", K), ("p", K)])),
        ("AT_LEAST(2, NOT OK, (c, o))", &["c"], NotAlways(&[("o", K)])),
        ("AT_LEAST(1, NOT ALARM, (c))", &["c"], NotAlways(&[])),
        ("AT_LEAST(1, INSUFFICIENT_DATA, (c, o))", &["c"], NotAlways(&[("o", K)])),
        ("AT_LEAST(2, ALARM, (c, o)) OR AT_LEAST(1, NOT ALARM, (o))", &["c"], Always),
        ("AT_LEAST(50%, ALARM, (c, o))", &["c"], Always),
        ("AT_LEAST(51%, ALARM, (c, o))", &["c"], NotAlways(&[("o", K)])),
        ("AT_LEAST(33%, ALARM, (c, o, p))", &["c"], Always),
        ("AT_LEAST(34%, ALARM, (c, o, p))", &["c"], NotAlways(&[("o", K), ("p", K)])),
        ("AT_LEAST(100%, NOT OK, (c, o, p)) OR OK(o) OR OK(p)", &["c"], Always),
        (&child_twice, &["c"], Undecidable("if they are one alarm")),
        (&other_twice, &["c"], Undecidable("lists one alarm twice")),
        ("AT_LEAST(1, OK, (o, o))", &["c"], Undecidable("lists \"o\" twice")),
        // realistic composites
        (nested, &["c"], NotAlways(&[("maintenance", A)])),
        (&any_of_20, &[CHILD_ARN], Always),
        (&all_of_20, &["c"], NotAlways(&[("o1", K)])),
        (&ten, &["c"], Always),
        // 2^24 assignments of alarms the rule cannot tell apart by less than all of them
        (&twenty_four, &["c"], Undecidable("too many states to search within 5000000 steps")),
    ];
    assert!(cases.len() >= 30);
    let mut wrong = Vec::new();
    for (text, in_alarm, expected) in &cases {
        let rule = AlarmRule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got = rule.implied_by(&identity(in_alarm));
        let ok = match (expected, &got) {
            (Always, Implication::Always) => true,
            (NotAlways(want), Implication::NotAlways { counterexample }) => {
                counterexample.len() == want.len() && counterexample.iter().zip(want.iter()).all(|((a, s), (b, t))| a == b && s == t)
            }
            (Undecidable(part), Implication::Undecidable { why }) => why.contains(part),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{text}\n   expected {expected:?}\n   got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Spellings of the alarms a generated rule may name, and whose they are: 0 is the child.
    const SPELLINGS: [(&str, usize); 7] = [("c", 0), (CHILD_ARN, 0), ("o1", 1), ("arn:aws:cloudwatch:us-east-1:111111111111:alarm:o1", 1), ("o2 two", 2), ("o3", 3), ("o4", 4)];
    /// One spelling per alarm, for AT_LEAST lists (which must not name an alarm twice).
    const DISTINCT: [usize; 5] = [0, 2, 4, 5, 6];

    /// A rule as the test knows it, independently of the parser.
    #[derive(Clone, Debug)]
    enum T {
        Const(bool),
        Is(State, usize),
        AtLeast { percent: bool, value: usize, negated: bool, state: State, listed: Vec<usize> },
        Not(Box<T>),
        Group(Box<T>),
        /// Operators are `true` for AND.
        Chain(Box<T>, Vec<(bool, T)>),
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Grouping {
        AndFirst,
        LeftToRight,
        OrFirst,
    }

    fn write(t: &T, out: &mut String) {
        let name = |s: usize| {
            let (spelling, _) = SPELLINGS[s];
            if spelling.contains(' ') || spelling.starts_with("arn") { format!("\"{spelling}\"") } else { spelling.to_owned() }
        };
        match t {
            T::Const(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
            T::Is(state, s) => out.push_str(&format!("{state}({})", name(*s))),
            T::AtLeast { percent, value, negated, state, listed } => {
                let listed: Vec<String> = listed.iter().map(|s| name(*s)).collect();
                let not = if *negated { "NOT " } else { "" };
                let pct = if *percent { "%" } else { "" };
                out.push_str(&format!("AT_LEAST({value}{pct}, {not}{state}, ({}))", listed.join(", ")));
            }
            T::Not(x) => {
                out.push_str("NOT ");
                write(x, out);
            }
            T::Group(x) => {
                out.push('(');
                write(x, out);
                out.push(')');
            }
            T::Chain(first, rest) => {
                write(first, out);
                for (and, x) in rest {
                    out.push_str(if *and { " AND " } else { " OR " });
                    write(x, out);
                }
            }
        }
    }

    fn text(t: &T) -> String {
        let mut out = String::new();
        write(t, &mut out);
        out
    }

    fn mixes(t: &T) -> bool {
        match t {
            T::Const(_) | T::Is(..) | T::AtLeast { .. } => false,
            T::Not(x) | T::Group(x) => mixes(x),
            T::Chain(first, rest) => {
                (rest.iter().any(|(and, _)| *and) && rest.iter().any(|(and, _)| !*and)) || mixes(first) || rest.iter().any(|(_, x)| mixes(x))
            }
        }
    }

    /// The truth of `t` when alarm `i` is in `states[i]`.
    fn truth(t: &T, states: &[State; 5], grouping: Grouping) -> bool {
        match t {
            T::Const(b) => *b,
            T::Is(state, s) => states[SPELLINGS[*s].1] == *state,
            T::AtLeast { percent, value, negated, state, listed } => {
                let count = listed.iter().filter(|s| (states[SPELLINGS[**s].1] == *state) != *negated).count();
                if *percent { count * 100 >= value * listed.len() } else { count >= *value }
            }
            T::Not(x) => !truth(x, states, grouping),
            T::Group(x) => truth(x, states, grouping),
            T::Chain(first, rest) => {
                let first = truth(first, states, grouping);
                let rest: Vec<(bool, bool)> = rest.iter().map(|(and, x)| (*and, truth(x, states, grouping))).collect();
                match grouping {
                    Grouping::LeftToRight => rest.iter().fold(first, |acc, (and, v)| if *and { acc && *v } else { acc || *v }),
                    Grouping::AndFirst | Grouping::OrFirst => {
                        // Split on the loose operator, combine runs with the tight one.
                        let loose_is_and = grouping == Grouping::OrFirst;
                        let mut groups = vec![first];
                        for (and, v) in rest {
                            if and == loose_is_and {
                                groups.push(v);
                            } else if let Some(last) = groups.last_mut() {
                                *last = if and { *last && v } else { *last || v };
                            }
                        }
                        if loose_is_and { groups.iter().all(|g| *g) } else { groups.iter().any(|g| *g) }
                    }
                }
            }
        }
    }

    /// Every state of the four other alarms, the child in ALARM.
    fn all_states() -> Vec<[State; 5]> {
        let mut out = Vec::new();
        for i in 0..81usize {
            let pick = |k: u32| State::ALL[(i / 3usize.pow(k)) % 3];
            out.push([State::Alarm, pick(0), pick(1), pick(2), pick(3)]);
        }
        out
    }

    fn unary(t: T) -> T {
        if matches!(t, T::Chain(..)) { T::Group(Box::new(t)) } else { t }
    }

    fn state() -> impl Strategy<Value = State> {
        proptest::sample::select(&State::ALL[..])
    }

    fn rule() -> impl Strategy<Value = T> {
        let leaf = prop_oneof![
            1 => any::<bool>().prop_map(T::Const),
            6 => (state(), 0..SPELLINGS.len()).prop_map(|(s, a)| T::Is(s, a)),
            2 => (any::<bool>(), 1..=100usize, any::<bool>(), state(), proptest::sample::subsequence(&DISTINCT[..], 1..=DISTINCT.len()), any::<proptest::sample::Index>())
                .prop_map(|(percent, pct, negated, state, listed, count)| {
                    let value = if percent { pct } else { count.index(listed.len()) + 1 };
                    T::AtLeast { percent, value, negated, state, listed }
                }),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| T::Not(Box::new(unary(t)))),
                inner.clone().prop_map(|t| T::Group(Box::new(t))),
                (inner.clone(), proptest::collection::vec((any::<bool>(), inner), 1..4))
                    .prop_map(|(first, rest)| T::Chain(Box::new(unary(first)), rest.into_iter().map(|(and, t)| (and, unary(t))).collect())),
            ]
        })
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(
                &[
                    "ALARM", "OK", "INSUFFICIENT_DATA", "AT_LEAST", "TRUE", "FALSE", "NOT", "AND", "OR", "and", "(", ")", "(", ")", ",", "\"",
                    "\\", " ", " ", "\n", "%", "50%", "2", "0", "c", "o1", "\"o2 two\"", CHILD_ARN, "é", "😀",
                ][..]
            )
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ]
    }

    type Identity = Box<dyn Fn(&str) -> Ref>;

    fn identities() -> [Identity; 3] {
        [Box::new(identity(&["c"])), Box::new(identity(&[])), Box::new(identity(&["c", "o1"]))]
    }

    fn check_error(text: &str, e: &ParseError) -> Result<(), TestCaseError> {
        let length = text.chars().count();
        prop_assert!(e.column >= 1 && e.column <= length.min(MAX_RULE_LEN) + 1, "{e} for {text:?}");
        prop_assert!(!e.message.is_empty());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

        /// Any text parses, or fails with a column inside it (or just past its end).
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            match AlarmRule::parse(&text) {
                Ok(rule) => { let _ = rule.implied_by(&identity(&["c"])); }
                Err(e) => check_error(&text, &e)?,
            }
        }

        /// Pieces of rules in any order: parsed and judged, or refused with a column inside.
        #[test]
        fn token_soup_never_panics(tokens in proptest::collection::vec(token(), 0..40)) {
            let text = tokens.concat();
            match AlarmRule::parse(&text) {
                Ok(rule) => {
                    for id in identities() {
                        let _ = rule.implied_by(&*id);
                    }
                    prop_assert!(AlarmRule::parse(&rule.to_string()).is_ok());
                }
                Err(e) => check_error(&text, &e)?,
            }
        }

        /// The canonical form parses back to a rule naming the same alarms, showing the same
        /// way and judged the same.
        #[test]
        fn display_round_trips(t in rule()) {
            let written = text(&t);
            let rule = AlarmRule::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
            let shown = rule.to_string();
            let again = AlarmRule::parse(&shown).map_err(|e| TestCaseError::fail(format!("{shown}: {e}")))?;
            prop_assert_eq!(again.alarms(), rule.alarms());
            prop_assert_eq!(again.to_string(), shown.clone());
            prop_assert_eq!(again.relies_on_precedence(), rule.relies_on_precedence());
            prop_assert_eq!(rule.relies_on_precedence(), mixes(&t));
            for id in identities() {
                prop_assert_eq!(again.implied_by(&*id), rule.implied_by(&*id), "{} and {}", written, shown);
            }
        }

        /// implied_by says what enumerating every state of the (at most four) other alarms
        /// says, under every grouping of AND and OR the rule leaves open; a counterexample makes
        /// the rule false under all of them, whatever the alarms it does not list are doing.
        #[test]
        fn implied_by_agrees_with_enumeration(t in rule()) {
            let written = text(&t);
            let rule = AlarmRule::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
            let groupings: &[Grouping] = if mixes(&t) { &[Grouping::AndFirst, Grouping::LeftToRight, Grouping::OrFirst] } else { &[Grouping::AndFirst] };
            let states = all_states();
            let always: Vec<bool> = groupings.iter().map(|g| states.iter().all(|s| truth(&t, s, *g))).collect();
            let common_false = states.iter().any(|s| groupings.iter().all(|g| !truth(&t, s, *g)));
            let got = rule.implied_by(&identity(&["c"]));
            match &got {
                Implication::Always => prop_assert!(always.iter().all(|a| *a), "{written}: {got:?} but {always:?}"),
                Implication::Undecidable { why } => {
                    prop_assert!(always.iter().any(|a| !*a) && (always.iter().any(|a| *a) || !common_false), "{written}: {why}");
                }
                Implication::NotAlways { counterexample } => {
                    prop_assert!(common_false, "{written}: {got:?}");
                    let mut fixed: [Option<State>; 5] = [None; 5];
                    for (name, state) in counterexample {
                        let alarm = SPELLINGS.iter().find(|(s, _)| s == name).map(|(_, a)| *a);
                        prop_assert!(matches!(alarm, Some(1..=4)), "{written}: {name} is not another alarm");
                        let alarm = alarm.unwrap_or(0);
                        prop_assert!(fixed[alarm].is_none(), "{written}: {name} twice");
                        fixed[alarm] = Some(*state);
                    }
                    for s in states.iter().filter(|s| (1..5).all(|a| fixed[a].is_none_or(|f| f == s[a]))) {
                        for g in groupings {
                            prop_assert!(!truth(&t, s, *g), "{written}: true in {s:?} ({g:?}) despite {counterexample:?}");
                        }
                    }
                }
            }
        }

        /// Whatever a rule is, OR-ing the child onto it makes it follow the child.
        #[test]
        fn or_child_is_always_implied(t in rule(), spelling in proptest::sample::select(&["c", CHILD_ARN][..])) {
            let written = format!("({}) OR ALARM(\"{spelling}\")", text(&t));
            let rule = AlarmRule::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
            prop_assert_eq!(rule.implied_by(&identity(&["c"])), Implication::Always, "{}", written);
        }

        /// Whatever a rule is, AND-ing FALSE onto it makes it never follow anything.
        #[test]
        fn and_false_is_never_implied(t in rule()) {
            let written = format!("({}) AND FALSE", text(&t));
            let rule = AlarmRule::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
            // (With the child and o1 both in ALARM, an AT_LEAST listing both is undecidable.)
            for (i, id) in identities().iter().enumerate() {
                let got = rule.implied_by(&**id);
                prop_assert!(got != Implication::Always, "{}", written);
                if i < 2 {
                    prop_assert_eq!(got, Implication::NotAlways { counterexample: Vec::new() }, "{}", written);
                }
            }
        }
    }
}
