use super::*;

/// What a row expects of `during_burst`; `X` holds a part of the reason.
#[derive(Clone, Copy, Debug)]
enum Want {
    U,
    C(f64),
    F,
    X(&'static str),
}

/// The ids every evaluation row may read: the filter's metric, other metrics, an expression
/// over the metric, a constant and an undecidable query.
fn env(id: &str) -> Option<Value> {
    match id {
        "m1" | "e1" => Some(Value::Unbounded),
        "m2" | "m3" | "other_metric" => Some(Value::Free),
        "k" => Some(Value::Constant(2.0)),
        "x" => Some(Value::Undecidable("x is odd".to_owned())),
        _ => None,
    }
}

fn judge(text: &str) -> Value {
    let expression = Expression::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    expression.during_burst(&env)
}

fn check(text: &str, want: Want) {
    let got = judge(text);
    let ok = match (&got, want) {
        (Value::Unbounded, Want::U) | (Value::Free, Want::F) => true,
        (Value::Constant(c), Want::C(w)) => *c == w,
        (Value::Undecidable(why), Want::X(part)) => why.contains(part),
        _ => false,
    };
    assert!(ok, "{text:?}: got {got:?}, wanted {want:?}");
}

/// (input, column, part of the message)
#[test]
fn refusals_are_positioned() {
    let too_long = "m1+".repeat(700);
    let too_deep = format!("{}m1{}", "(".repeat(33), ")".repeat(33));
    let too_many_minus = format!("{}m1", "-".repeat(33));
    let deep_calls = format!("{}m1{}", "ABS(".repeat(33), ")".repeat(33));
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "expected an expression, found the end"),
        ("   ", 4, "expected an expression, found the end"),
        ("(m1", 4, "expected ')' to close the '(' at column 1"),
        ("((m1 + 2)", 10, "to close the '(' at column 1"),
        ("m1)", 3, "')' closes no '('"),
        ("[m1, m2", 8, "expected ',' or ']' to close the '[' at column 1"),
        ("m1]", 3, "']' closes no '['"),
        ("SUM([m1, m2)", 12, "expected ',' or ']'"),
        ("FILL(m1, 0", 11, "expected ',' or ')' to close the '(' at column 5"),
        ("FILL(m1 m2)", 9, "expected ',' or ')'"),
        ("FILL(m1,)", 9, "expected an expression after ','"),
        ("m1 +", 5, "expected an expression after '+', found the end"),
        ("* m1", 1, "expected an expression, found '*'"),
        ("m1 * / 2", 6, "expected an expression after '*'"),
        ("m1 >", 5, "after '>'"),
        ("m1 AND", 7, "after 'AND'"),
        ("AND m1", 1, "expected an expression, found 'AND'"),
        ("m1 m2", 4, "expected an operator or the end, found the id m2"),
        ("m1.5", 3, "found the number 0.5"),
        ("sum(m1)", 1, "function names are upper-case: write SUM(…)"),
        ("Sum(m1)", 1, "neither an id"),
        ("M1 + 1", 1, "must start with a lower-case letter"),
        ("m1 + REPEAT", 6, "only a function's argument"),
        ("FILL(m1, REPEAT + 1)", 10, "only a function's argument"),
        ("_m1", 1, "must start with a lower-case letter"),
        ("1m", 1, "an id must start with a lower-case letter"),
        ("2 * 3abc", 5, "an id must start with a lower-case letter"),
        ("SEARCH('{AWS/EC2} CPU", 8, "unterminated string"),
        ("METRICS(\"errors)", 9, "unterminated string"),
        ("METRICS('a\\')", 9, "unterminated string"),
        ("m1 = 5", 4, "compare with '=='"),
        ("m1 & m2", 4, "'&&'"),
        ("m1 | m2", 4, "'||'"),
        ("!m1", 1, "'!' alone"),
        ("m1 # 2", 4, "unexpected character '#'"),
        ("[]", 2, "at least one element"),
        ("1e999", 1, "out of range"),
        ("2 + .", 5, "'.' must be part of a number"),
        ("SUM([METRICS(“4xx”)])", 14, "unexpected character '“'"),
        // columns count characters, not bytes
        ("é + m1", 1, "unexpected character 'é'"),
        ("FILL(m1, 'é') + ü", 17, "unexpected character 'ü'"),
        ("'日本語' +", 8, "after '+'"),
        (&too_long, 2049, "2100 characters long; CloudWatch accepts at most 2048"),
        (&too_deep, 33, "nests deeper than 32 levels"),
        (&too_many_minus, 33, "nests deeper than 32"),
        (&deep_calls, 132, "nests deeper than 32"),
    ];
    for (input, column, part) in cases {
        match Expression::parse(input) {
            Ok(e) => panic!("{input:?} parsed as {e}"),
            Err(e) => {
                assert!(e.message.contains(part), "{input:?}: {e} lacks {part:?}");
                assert_eq!(e.column, *column, "{input:?}: {e}");
                assert_eq!(e.to_string(), format!("{} at column {}", e.message, e.column));
            }
        }
    }
}

/// (input, canonical form)
#[test]
fn documented_forms_parse_to_their_canonical_form() {
    let limit = format!("{}1111", "1 + ".repeat(511));
    assert_eq!(limit.len(), MAX_EXPRESSION_LEN);
    let nested = format!("{}m1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    let cases: &[(&str, &str)] = &[
        ("m1+2*3", "m1 + 2 * 3"),
        ("m1+m2", "m1 + m2"),
        ("e1-MIN(e1)", "e1 - MIN(e1)"),
        ("PERIOD(m1)/60", "PERIOD(m1) / 60"),
        ("5 * m1", "5 * m1"),
        ("SUM(100/[m1, m2])", "SUM(100 / [m1, m2])"),
        ("AVG([m1,m2]/m3)", "AVG([m1, m2] / m3)"),
        ("METRICS()*100", "METRICS() * 100"),
        ("-5*m1", "-5 * m1"),
        ("-m1", "-m1"),
        ("SUM(-[m1, m2])", "SUM(-[m1, m2])"),
        ("(metric1 > 15 AND metric2 > 15)", "(metric1 > 15 AND metric2 > 15)"),
        ("m1 > 1 && m2 < 2 || m3 == 0", "m1 > 1 AND m2 < 2 OR m3 == 0"),
        ("m1 != 1 OR m1 <= 2 OR m1 >= 3", "m1 != 1 OR m1 <= 2 OR m1 >= 3"),
        ("FILL(m1,10)", "FILL(m1, 10)"),
        ("FILL(METRICS(), 0)", "FILL(METRICS(), 0)"),
        ("FILL(m1, MIN(m1))", "FILL(m1, MIN(m1))"),
        ("FILL(m1, REPEAT)", "FILL(m1, REPEAT)"),
        ("FILL(METRICS(), LINEAR)", "FILL(METRICS(), LINEAR)"),
        ("IF(FIRST(SORT(METRICS(), AVG, DESC))>100, 1, 0)", "IF(FIRST(SORT(METRICS(), AVG, DESC)) > 100, 1, 0)"),
        ("LAST(ANOMALY_DETECTION_BAND(m1))", "LAST(ANOMALY_DETECTION_BAND(m1))"),
        ("ANOMALY_DETECTION_BAND(m1,4)", "ANOMALY_DETECTION_BAND(m1, 4)"),
        ("SUM(METRICS(\"errors\"))/SUM(METRICS(\"requests\"))*100", "SUM(METRICS(\"errors\")) / SUM(METRICS(\"requests\")) * 100"),
        ("IF(DAY(m1)<6,m1)", "IF(DAY(m1) < 6, m1)"),
        ("IF(MONTH(m1) == 4,m1)", "IF(MONTH(m1) == 4, m1)"),
        ("SLICE(SORT(METRICS(), SUM, DESC), 0, 10)", "SLICE(SORT(METRICS(), SUM, DESC), 0, 10)"),
        ("TIME_SERIES(5*AVG(m1))", "TIME_SERIES(5 * AVG(m1))"),
        ("m1/METRIC_COUNT(METRICS())", "m1 / METRIC_COUNT(METRICS())"),
        ("SUM(m1) / DATAPOINT_COUNT(m1)", "SUM(m1) / DATAPOINT_COUNT(m1)"),
        ("SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', 300)", "SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', 300)"),
        (r#"SEARCH(' {"My Namespace"}, "Europe\\France Traffic\(Network\)" ', 'Maximum')"#, r#"SEARCH(' {"My Namespace"}, "Europe\\France Traffic\(Network\)" ', 'Maximum')"#),
        ("INSIGHT_RULE_METRIC(\"rule\", \"UniqueContributors\")", "INSIGHT_RULE_METRIC(\"rule\", \"UniqueContributors\")"),
        ("m1 ^ -1", "m1 ^ -1"),
        ("2^3^2", "2 ^ 3 ^ 2"),
        ("- -m1", "--m1"),
        ("50.25", "50.25"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e3", "1000"),
        ("2.5E-2", "0.025"),
        ("1e20", "1e20"),
        ("0.0000001", "1e-7"),
        ("errors_2 / requests", "errors_2 / requests"),
        ("\tm1\n+\r\n1 ", "m1 + 1"),
        ("NOT(m1)", "NOT(m1)"),
        ("SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\")", "SELECT AVG(CPUUtilization) FROM SCHEMA(\"AWS/EC2\")"),
        ("  select sum(x) from y  ", "select sum(x) from y"),
        (&limit, &limit),
        (&nested, &nested),
    ];
    for (input, canonical) in cases {
        let expression = Expression::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(expression.to_string(), *canonical, "{input:?}");
        let again = Expression::parse(canonical).unwrap_or_else(|e| panic!("{canonical:?}: {e}"));
        assert_eq!(again, expression, "{input:?}");
    }
}

#[test]
fn ids_are_listed_once_in_order_of_appearance() {
    let cases: &[(&str, &[&str])] = &[
        ("m1", &["m1"]),
        ("m2 + m1 * m2 - FILL(e1, m2)", &["m2", "m1", "e1"]),
        ("IF(m1 > threshold, [m1, m3], SUM([m3]))", &["m1", "threshold", "m3"]),
        ("SEARCH('m1 m2', 'Sum', 300)", &[]),
        ("SORT(METRICS(), AVG, DESC)", &[]),
        ("SELECT SUM(m1) FROM x", &[]),
        ("-(-(a_b))", &["a_b"]),
    ];
    for (input, ids) in cases {
        assert_eq!(Expression::parse(input).unwrap().ids(), *ids, "{input:?}");
    }
}

/// (expression, value during a burst) under `env`.
#[test]
fn expressions_are_judged_during_a_burst() {
    use Want::*;
    let cases: &[(&str, Want)] = &[
        // the metric and its fills
        ("m1", U),
        ("(m1)", U),
        ("FILL(m1, 0)", U),
        ("FILL(m1, REPEAT)", U),
        ("FILL(m1, LINEAR)", U),
        ("FILL(m1, m2)", U),
        ("FILL(m1, NEAREST)", X("FILL knows no keyword NEAREST")),
        ("FILL(m2, 0)", F),
        ("FILL(m2, REPEAT)", F),
        ("FILL(m2, m1)", X("the filler moves with the burst")),
        ("FILL(m1)", X("FILL takes 2 arguments")),
        // scaling and shifting
        ("2 * m1", U),
        ("m1 * 2", U),
        ("m1 / 60", U),
        ("m1 / PERIOD(m1)", U),
        ("m1 * PERIOD(m1) / PERIOD(m1)", U),
        ("-1 * m1", X("-1 * m1: a negative factor")),
        ("m1 * -1", X("negative factor")),
        ("m1 / -2", X("negative divisor")),
        ("m1 * 0", C(0.0)),
        ("m1 / 0", X("divides by zero")),
        ("m1 + m2", U),
        ("m2 + m1", U),
        ("m1 - m2", U),
        ("m1 - 5", U),
        ("m2 - m1", X("m2 - m1: falls as the count rises")),
        ("m1 - m1", X("both rise")),
        ("m1 + m1", U),
        ("m1 * m1", U),
        ("m1 / m1", X("ratio of two values")),
        ("m1 * m2", X("sign is unknown")),
        ("m1 / m2", X("sign is unknown")),
        ("1 / m1", X("shrinks toward 0")),
        ("k * m1", U),
        ("m2 * 2", F),
        ("m2 / m3 + 1", F),
        ("e1 * 3", U),
        ("e1 - m1", X("both rise")),
        // precedence
        ("m1 + 2 * 3", U),
        ("-m1 + 5", X("-m1: falls")),
        ("5 - m1 * 2", X("falls")),
        ("2 + 3 * 4", C(14.0)),
        ("(2 + 3) * 4", C(20.0)),
        ("10 - 4 - 3", C(3.0)),
        ("12 / 3 / 2", C(2.0)),
        ("0.1 + 0.2", C(0.30000000000000004)),
        ("1e308 * 10", X("leaves the finite numbers")),
        ("5", C(5.0)),
        ("-5", C(-5.0)),
        // powers, and the groupings AWS does not document
        ("m1 ^ 2", U),
        ("m1 ^ 0.5", U),
        ("m1 ^ 0", X("exponent of 0 or less")),
        ("m1 ^ -1", X("exponent of 0 or less")),
        ("2 ^ m1", X("count as the exponent")),
        ("2 ^ 10", C(1024.0)),
        ("-2 ^ 2", X("unary minus or ^ binds tighter")),
        ("-2 ^ 3", C(-8.0)),
        ("-(2 ^ 2)", C(-4.0)),
        ("(-2) ^ 2", C(4.0)),
        ("2 ^ 3 ^ 2", X("how a ^ b ^ c groups")),
        ("2 ^ (3 ^ 2)", C(512.0)),
        ("(2 ^ 3) ^ 2", C(64.0)),
        // comparisons
        ("m1 > 0", C(1.0)),
        ("m1 >= 5", C(1.0)),
        ("m1 < 3", C(0.0)),
        ("m1 <= 3", C(0.0)),
        ("0 > m1", C(0.0)),
        ("3 < m1", C(1.0)),
        ("m1 > m2", C(1.0)),
        ("m1 == 5", C(0.0)),
        ("m1 != 5", C(1.0)),
        ("m1 > m1", X("both rise")),
        ("m2 > 5", F),
        ("2 >= 3", C(0.0)),
        ("1 < 2 < 3", X("chain of comparisons")),
        // logic
        ("m1 > 0 AND m2 > 0", F),
        ("m1 > 0 OR m2 > 0", C(1.0)),
        ("m1 > 0 && 1", C(1.0)),
        ("m1 < 0 AND m2", C(0.0)),
        ("m1 < 0 || m2", F),
        ("m1 AND m1", C(1.0)),
        ("0 OR 1 AND 1", C(1.0)),
        ("1 OR 0 AND 0", X("whether AND binds tighter than OR")),
        ("1 OR (0 AND 0)", C(1.0)),
        ("x AND 0", X("x is odd")),
        // IF
        ("IF(m1 > 0, 1, 0)", C(1.0)),
        ("IF(m1 > 0, m1)", U),
        ("IF(m1, m1 * 2, 0)", U),
        ("IF(m1 < 0, 1, m1)", U),
        ("IF(m1 < 0, 1)", X("no false branch")),
        ("IF(m2 > 0, m1, 2 * m1)", U),
        ("IF(m2 > 0, m1, 0)", X("the branch taken depends on other metrics")),
        ("IF(m2 > 0, 1, 1)", C(1.0)),
        ("IF(m2 > 0, 1, m3)", F),
        ("IF(m2, m3)", F),
        ("IF(m1 > 0, 1, RATE(m1))", C(1.0)),
        ("IF(m1)", X("IF takes 2 or 3 arguments")),
        // arrays and aggregates
        ("SUM([m1, m2])", U),
        ("SUM([m1, m2, 5])", U),
        ("SUM([m1, x])", X("x is odd")),
        ("SUM([2, 3])", C(5.0)),
        ("SUM([m2, 3])", F),
        ("AVG([m1, 4])", U),
        ("AVG([2, 4])", C(3.0)),
        ("MAX([m1, m2])", U),
        ("MAX([m2, 7])", F),
        ("MAX([1, 7])", C(7.0)),
        ("MIN([m1, m2])", F),
        ("MIN([m1, FILL(m1,0)])", U),
        ("MIN([m1, 5, 3])", C(3.0)),
        ("MIN([m1, -m1])", X("falls")),
        ("SUM([m1, m2] * 2)", U),
        ("SUM(100 / [m1, m2])", X("shrinks toward 0")),
        ("SUM(-[m1, m2])", X("falls")),
        ("MAX([[m1], m2])", U),
        ("FIRST([m1, m2])", U),
        ("LAST([m1, m2])", F),
        ("FIRST(m1)", X("does not know the members")),
        ("[m1, m2]", X("an array of time series")),
        ("[m1, m2] + 1", X("an array of time series")),
        ("[m1] > 0", X("comparison of an array")),
        ("[m1] + [m2]", X("between two arrays")),
        // one series: a scalar over the time range
        ("SUM(m1)", U),
        ("AVG(m1)", U),
        ("MAX(m1)", U),
        ("MIN(m1)", X("least point of one series")),
        ("m1 - MIN(m1)", X("MIN(m1): the least point")),
        ("SUM(m2)", F),
        ("SUM(5)", X("spans the whole time range")),
        ("STDDEV(m1)", X("spread")),
        ("STDDEV(m2)", F),
        // per-point functions
        ("ABS(m1)", U),
        ("ABS(-3)", C(3.0)),
        ("ABS(m2)", F),
        ("CEIL(m1 / 60)", U),
        ("FLOOR(2.5)", C(2.0)),
        ("CEIL(2.5)", C(3.0)),
        ("LOG(m1)", U),
        ("LOG10(100)", C(2.0)),
        ("LOG(0)", X("not above 0")),
        ("RUNNING_SUM(m1)", U),
        ("RUNNING_SUM(3)", X("before the burst")),
        ("TIME_SERIES(MAX(m1))", U),
        ("TIME_SERIES(10)", C(10.0)),
        ("PERIOD(m1)", F),
        ("MINUTE(m1)", F),
        ("IF(DAY(m1) < 6, m1)", X("the branch taken")),
        // functions orgwatch does not model, and sources it cannot see
        ("RATE(m1)", X("RATE(m1)")),
        ("DIFF(m1)", X("DIFF(m1)")),
        ("DIFF_TIME(m1)", X("DIFF_TIME(m1)")),
        ("RATE(m2)", F),
        ("SERVICE_QUOTA(m2)", F),
        ("SORT([m2, m3], AVG, DESC)", F),
        ("SEARCH('{AWS/Logs} MetricName=\"UnauthorizedAPICalls\"', 'Sum', 300)", X("SEARCH(…)")),
        ("METRICS()", X("METRICS()")),
        ("SUM(METRICS())", X("METRICS()")),
        ("SORT(METRICS(), AVG, DESC)", X("METRICS()")),
        ("INSIGHT_RULE_METRIC('rule', 'Sum')", X("INSIGHT_RULE_METRIC(…)")),
        ("LAMBDA('fn', 'x')", X("LAMBDA(…)")),
        ("ANOMALY_DETECTION_BAND(m1)", X("ANOMALY_DETECTION_BAND(m1)")),
        ("FOO(m1)", X("unknown function FOO")),
        ("NOT(m1)", X("unknown function NOT")),
        ("SQRT(m1)", X("unknown function SQRT")),
        ("SELECT SUM(Count) FROM \"CloudTrailMetrics\"", X("Metrics Insights")),
        // ids
        ("m2", F),
        ("other_metric * 3", F),
        ("m9 + m1", X("no query defines the id m9")),
        ("x + m1", X("x is odd")),
        ("m1 + 'x'", X("a string is not a time series")),
        ("SUM(REPEAT)", X("REPEAT is a keyword")),
    ];
    assert!(cases.len() >= 40);
    for (text, want) in cases {
        check(text, *want);
    }
}

#[test]
fn a_constant_given_for_an_id_is_taken_exactly_and_negative_zero_is_zero() {
    let expression = Expression::parse("e2 * -1").unwrap();
    let value = expression.during_burst(&|id| (id == "e2").then_some(Value::Constant(0.0)));
    assert_eq!(value, Value::Constant(0.0));
    assert!(matches!(value, Value::Constant(c) if c.is_sign_positive()));
    let nan = expression.during_burst(&|_| Some(Value::Constant(f64::NAN)));
    assert!(matches!(nan, Value::Undecidable(why) if why.contains("not a finite number")));
}

/// Each reading of an ambiguous form reuses the operands' values, so nesting such forms to
/// the limit costs time linear in the text, not exponential.
#[test]
fn ambiguity_checks_stay_linear() {
    let started = std::time::Instant::now();
    let mut or_and = "m1".to_owned();
    for _ in 0..MAX_NESTING - 1 {
        or_and = format!("({or_and} OR m1 > 0 AND 1)");
    }
    check(&or_and, Want::C(1.0));
    let mut minus_power = "m1".to_owned();
    for _ in 0..MAX_NESTING / 2 {
        minus_power = format!("-({minus_power}) ^ 2");
    }
    check(&minus_power, Want::X("falls"));
    let mut both = "2".to_owned();
    for _ in 0..MAX_NESTING / 2 {
        both = format!("-(1 OR {both} AND 0) ^ 3");
    }
    let _ = judge(&both);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
}

/// What a row expects of `reaches`; the texts are parts of the reason.
#[derive(Clone, Copy, Debug)]
enum Reached {
    Yes,
    Never(&'static str),
    NotOnTheMetric,
    Undecidable(&'static str),
}

/// (value, operator, threshold, expected)
#[test]
fn reaching_the_threshold() {
    use Reached::*;
    let rate = Value::Undecidable("RATE(m1)".to_owned());
    let cases: &[(&Value, &str, f64, Reached)] = &[
        (&Value::Unbounded, "GreaterThanThreshold", 10.0, Yes),
        (&Value::Unbounded, "GreaterThanOrEqualToThreshold", 1e12, Yes),
        (&Value::Unbounded, "LessThanThreshold", 1.0, Never("rises")),
        (&Value::Unbounded, "LessThanOrEqualToThreshold", 1.0, Never("LessThanOrEqualToThreshold")),
        (&Value::Constant(1.0), "GreaterThanOrEqualToThreshold", 1.0, Yes),
        (&Value::Constant(1.0), "GreaterThanThreshold", 1.0, Never("is 1 during a burst")),
        (&Value::Constant(0.0), "GreaterThanThreshold", 0.5, Never("is 0")),
        (&Value::Constant(0.0), "LessThanThreshold", 1.0, Yes),
        (&Value::Constant(2.0), "LessThanOrEqualToThreshold", 2.0, Yes),
        (&Value::Free, "GreaterThanThreshold", 1.0, NotOnTheMetric),
        (&Value::Free, "LessThanThreshold", 1.0, NotOnTheMetric),
        (&rate, "GreaterThanThreshold", 1.0, Undecidable("RATE(m1)")),
        (&Value::Unbounded, "GreaterThanUpperThreshold", 0.0, Undecidable("anomaly detection band")),
        (&Value::Unbounded, "LessThanLowerOrGreaterThanUpperThreshold", 0.0, Undecidable("anomaly detection band")),
        (&Value::Unbounded, "GreaterThan", 1.0, Undecidable("unknown comparison operator")),
        (&Value::Unbounded, "GreaterThanThreshold", f64::NAN, Undecidable("not a finite number")),
        (&Value::Constant(f64::INFINITY), "GreaterThanThreshold", 1.0, Undecidable("not a finite number")),
    ];
    for (value, operator, threshold, want) in cases {
        let got = reaches(value, operator, *threshold);
        let ok = match (&got, *want) {
            (Ok(()), Yes) | (Err(Reach::NotOnTheMetric), NotOnTheMetric) => true,
            (Err(Reach::Never(why)), Never(part)) | (Err(Reach::Undecidable(why)), Undecidable(part)) => why.contains(part),
            _ => false,
        };
        assert!(ok, "{value:?} {operator} {threshold}: got {got:?}, wanted {want:?}");
    }
    assert_eq!(Reach::NotOnTheMetric.to_string(), "the value does not depend on the metric");
    let judged = reaches(&judge("FILL(m1, 0) / PERIOD(m1)"), "GreaterThanOrEqualToThreshold", 1.0);
    assert_eq!(judged, Ok(()));
}

mod properties {
    use super::super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("m1".to_owned()),
            Just("m2".to_owned()),
            Just("e1".to_owned()),
            Just("x".to_owned()),
            Just("2".to_owned()),
            Just("0".to_owned()),
            Just("-".to_owned()),
            Just("+".to_owned()),
            Just("*".to_owned()),
            Just("/".to_owned()),
            Just("^".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(" ".to_owned()),
            Just(">".to_owned()),
            Just("==".to_owned()),
            Just(" AND ".to_owned()),
            Just(" OR ".to_owned()),
            Just("FILL(".to_owned()),
            Just("SUM(".to_owned()),
            Just("MIN(".to_owned()),
            Just("MAX(".to_owned()),
            Just("IF(".to_owned()),
            Just("RATE(".to_owned()),
            Just("FIRST(".to_owned()),
            Just("PERIOD(m1)".to_owned()),
            Just("REPEAT".to_owned()),
            Just("'s'".to_owned()),
            Just("\"".to_owned()),
            Just("é".to_owned()),
            Just("SELECT ".to_owned()),
            "\\PC{0,3}",
        ]
    }

    /// Syntactically valid expressions, as text.
    fn valid() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("m1".to_owned()),
            Just("m2".to_owned()),
            Just("e1".to_owned()),
            Just("x_2".to_owned()),
            Just("0".to_owned()),
            Just("2".to_owned()),
            Just("50.25".to_owned()),
            Just(".5".to_owned()),
            Just("1e3".to_owned()),
            Just("PERIOD(m1)".to_owned()),
            Just("METRICS()".to_owned()),
            Just("SEARCH('{AWS/Logs} \"x\\\"y\"', 'Sum', 300)".to_owned()),
            (0.0f64..1e6).prop_map(|x| x.to_string()),
        ];
        leaf.prop_recursive(4, 48, 4, |inner| {
            let op = prop_oneof![
                Just("+"), Just("-"), Just("*"), Just("/"), Just("^"), Just("=="), Just("!="), Just("<"), Just("<="),
                Just(">"), Just(">="), Just("AND"), Just("&&"), Just("OR"), Just("||"),
            ];
            let name = prop_oneof![
                Just("FILL"), Just("SUM"), Just("AVG"), Just("MAX"), Just("MIN"), Just("IF"), Just("ABS"), Just("RATE"),
                Just("LOG"), Just("TIME_SERIES"), Just("RUNNING_SUM"), Just("FIRST"), Just("SORT"), Just("FOO"),
            ];
            prop_oneof![
                (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}{}{b}", "-")),
                inner.clone().prop_map(|a| format!("-{a}")),
                inner.clone().prop_map(|a| format!("({a})")),
                (name, proptest::collection::vec(inner.clone(), 0..3)).prop_map(|(n, args)| format!("{n}({})", args.join(","))),
                proptest::collection::vec(inner.clone(), 1..3).prop_map(|items| format!("[{}]", items.join(", "))),
                inner.clone().prop_map(|a| format!("FILL({a}, REPEAT)")),
                inner.prop_map(|a| format!("SORT([{a}], AVG, DESC)")),
            ]
        })
    }

    fn value_of(seed: u64, id: &str) -> Option<Value> {
        let h = id.bytes().fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        match h % 5 {
            0 => None,
            1 => Some(Value::Unbounded),
            2 => Some(Value::Free),
            3 => Some(Value::Constant((h % 7) as f64 - 3.0)),
            _ => Some(Value::Undecidable(format!("{id} is undecidable"))),
        }
    }

    /// A small language for the soundness check, with a concrete evaluator.
    #[derive(Clone, Debug)]
    enum T {
        M1,
        M2,
        K(f64),
        Add(Box<T>, Box<T>),
        Sub(Box<T>, f64),
        Mul(Box<T>, f64),
        MulLeft(f64, Box<T>),
        Div(Box<T>, f64),
        Fill(Box<T>, f64),
        Sum(Vec<T>),
        Max(Vec<T>),
        Min(Vec<T>),
    }

    fn text(t: &T) -> String {
        let list = |items: &[T]| items.iter().map(text).collect::<Vec<_>>().join(", ");
        match t {
            T::M1 => "m1".to_owned(),
            T::M2 => "m2".to_owned(),
            T::K(k) if *k < 0.0 => format!("({k})"),
            T::K(k) => format!("{k}"),
            T::Add(a, b) => format!("({} + {})", text(a), text(b)),
            T::Sub(a, k) => format!("({} - {k})", text(a)),
            T::Mul(a, k) => format!("({} * {k})", text(a)),
            T::MulLeft(k, a) => format!("({k} * {})", text(a)),
            T::Div(a, k) => format!("({} / {k})", text(a)),
            T::Fill(a, k) => format!("FILL({}, {k})", text(a)),
            T::Sum(items) => format!("SUM([{}])", list(items)),
            T::Max(items) => format!("MAX([{}])", list(items)),
            T::Min(items) => format!("MIN([{}])", list(items)),
        }
    }

    fn concrete(t: &T, m1: f64, m2: f64) -> f64 {
        let all = |items: &[T]| items.iter().map(|i| concrete(i, m1, m2)).collect::<Vec<_>>();
        match t {
            T::M1 => m1,
            T::M2 => m2,
            T::K(k) => *k,
            T::Add(a, b) => concrete(a, m1, m2) + concrete(b, m1, m2),
            T::Sub(a, k) => concrete(a, m1, m2) - k,
            T::Mul(a, k) => concrete(a, m1, m2) * k,
            T::MulLeft(k, a) => k * concrete(a, m1, m2),
            T::Div(a, k) => concrete(a, m1, m2) / k,
            T::Fill(a, _) => concrete(a, m1, m2),
            T::Sum(items) => all(items).iter().sum(),
            T::Max(items) => all(items).into_iter().fold(f64::NEG_INFINITY, f64::max),
            T::Min(items) => all(items).into_iter().fold(f64::INFINITY, f64::min),
        }
    }

    fn tree() -> impl Strategy<Value = T> {
        let leaf = prop_oneof![Just(T::M1), Just(T::M2), (-100.0f64..100.0).prop_map(T::K)];
        leaf.prop_recursive(5, 32, 3, |inner| {
            let factor = 0.5f64..100.0;
            let divisor = 0.5f64..2.0;
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| T::Add(Box::new(a), Box::new(b))),
                (inner.clone(), -100.0f64..100.0).prop_map(|(a, k)| T::Sub(Box::new(a), k)),
                (inner.clone(), factor.clone()).prop_map(|(a, k)| T::Mul(Box::new(a), k)),
                (factor, inner.clone()).prop_map(|(k, a)| T::MulLeft(k, Box::new(a))),
                (inner.clone(), divisor).prop_map(|(a, k)| T::Div(Box::new(a), k)),
                (inner.clone(), -100.0f64..100.0).prop_map(|(a, k)| T::Fill(Box::new(a), k)),
                proptest::collection::vec(inner.clone(), 1..4).prop_map(T::Sum),
                proptest::collection::vec(inner.clone(), 1..4).prop_map(T::Max),
                proptest::collection::vec(inner, 1..4).prop_map(T::Min),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// Any text parses or is refused with a column inside it (or just past it).
        #[test]
        fn parsing_never_panics(parts in proptest::collection::vec(fragment(), 0..40), raw in "\\PC{0,60}") {
            for source in [parts.concat(), raw] {
                let length = source.chars().count();
                match Expression::parse(&source) {
                    Ok(expression) => {
                        let _ = expression.ids();
                        let _ = expression.to_string();
                    }
                    Err(e) => prop_assert!(e.column >= 1 && e.column <= length + 1, "{source:?}: {e}"),
                }
            }
        }

        /// The canonical form parses back to an equal expression, with the same canonical form.
        #[test]
        fn display_round_trips(source in valid()) {
            let expression = Expression::parse(&source);
            prop_assume!(!matches!(&expression, Err(e) if e.message.contains("characters long") || e.message.contains("deeper")));
            let expression = expression.map_err(|e| TestCaseError::fail(format!("{source:?}: {e}")))?;
            let canonical = expression.to_string();
            let again = Expression::parse(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical:?}: {e}")))?;
            prop_assert_eq!(&again, &expression);
            prop_assert_eq!(again.to_string(), canonical);
        }

        /// Judging never panics, whatever the ids are worth.
        #[test]
        fn judging_never_panics(parts in proptest::collection::vec(fragment(), 0..40), source in valid(), seed in any::<u64>()) {
            for text in [parts.concat(), source] {
                if let Ok(expression) = Expression::parse(&text) {
                    let env = |id: &str| value_of(seed, id);
                    let value = expression.during_burst(&env);
                    for operator in ["GreaterThanThreshold", "LessThanThreshold", "GreaterThanUpperThreshold"] {
                        let _ = reaches(&value, operator, 1.0);
                    }
                    if let Value::Constant(c) = value {
                        prop_assert!(c.is_finite());
                    }
                }
            }
        }

        /// Sound: what `during_burst` claims holds of the numbers, with m1 at a burst's count
        /// and the free metric anywhere in [-100, 100].
        #[test]
        fn the_judgement_is_sound(t in tree(), m2 in -100.0f64..100.0) {
            let source = text(&t);
            let expression = Expression::parse(&source).map_err(|e| TestCaseError::fail(format!("{source:?}: {e}")))?;
            let env = |id: &str| match id {
                "m1" => Some(Value::Unbounded),
                "m2" => Some(Value::Free),
                _ => None,
            };
            let at_burst = concrete(&t, 1e9, m2);
            match expression.during_burst(&env) {
                Value::Unbounded => prop_assert!(at_burst > 1e6, "{source}: {at_burst}"),
                Value::Constant(c) => prop_assert!((at_burst - c).abs() <= 1e-9 * c.abs().max(1.0), "{source}: {at_burst} vs {c}"),
                Value::Free => {
                    let bigger = concrete(&t, 2e9, m2);
                    prop_assert!((bigger - at_burst).abs() <= 1e-9 * at_burst.abs().max(1.0), "{source}: {at_burst} vs {bigger}");
                }
                Value::Undecidable(why) => prop_assert!(!why.is_empty()),
            }
        }

        /// Ids are the lower-case words of the text that are not inside strings.
        #[test]
        fn ids_are_those_written(source in valid()) {
            if let Ok(expression) = Expression::parse(&source) {
                for id in expression.ids() {
                    prop_assert!(id.starts_with(|c: char| c.is_ascii_lowercase()));
                    prop_assert!(source.contains(id));
                }
            }
        }
    }
}
