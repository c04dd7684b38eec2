use super::*;
use serde_json::json;

fn event() -> LogEvent {
    LogEvent::from_json(json!({
        "eventType": "UpdateTrail",
        "errorCode": "AccessDenied",
        "sourceIPAddress": "111.111.111.111",
        "latency": 42,
        "ratio": 0.5,
        "big": 1000,
        "flag": true,
        "off": false,
        "SomeObject": null,
        "cluster.name": "c",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
        "numericText": "400",
        "nested": {"deeper": {"deepest": "x"}}
    }))
}

/// (pattern, expected match against `event()`)
#[test]
fn json_patterns_match_as_cloudwatch_documents() {
    let cases: &[(&str, bool)] = &[
        // equality, quoted and unquoted
        (r#"{ $.eventType = "UpdateTrail" }"#, true),
        (r#"{ $.eventType = UpdateTrail }"#, true),
        (r#"{ $.eventType = "updatetrail" }"#, false), // case-sensitive
        (r#"{ $.eventType != "UpdateTrail" }"#, false),
        (r#"{ $.eventType != "CreateTrail" }"#, true),
        // wildcards anywhere
        (r#"{ $.errorCode = "AccessDenied*" }"#, true),
        (r#"{ $.errorCode = "*Denied" }"#, true),
        (r#"{ $.errorCode = "Acc*Den*d" }"#, true),
        (r#"{ $.errorCode = "*" }"#, true),
        (r#"{ $.errorCode = "*UnauthorizedOperation" }"#, false),
        (r#"{ $.errorCode = "AccessDenied*Exception" }"#, false),
        (r#"{ $.sourceIPAddress != 123.123.* }"#, true),
        (r#"{ $.sourceIPAddress = 111.111.* }"#, true),
        (r#"{ $.errorCode = "Access\*Denied" }"#, false), // escaped star is literal
        // numbers
        (r#"{ $.latency = 42 }"#, true),
        (r#"{ $.latency = 42.0 }"#, true),
        (r#"{ $.latency != 42 }"#, false),
        (r#"{ $.latency < 50 }"#, true),
        (r#"{ $.latency <= 42 }"#, true),
        (r#"{ $.latency > 42 }"#, false),
        (r#"{ $.latency >= 42 }"#, true),
        (r#"{ $.ratio < 1 }"#, true),
        (r#"{ $.big = 1e+3 }"#, true),
        (r#"{ $.big = 1E3 }"#, true),
        (r#"{ $.big != 1e-3 }"#, true),
        (r#"{ $.latency > -1 }"#, true),
        (r#"{ $.numericText = 400 }"#, true),
        (r#"{ $.numericText > 300 }"#, false), // relational operators compare JSON numbers only
        (r#"{ $.eventType > 3 }"#, false),
        // IS and NOT EXISTS
        (r#"{ $.SomeObject IS NULL }"#, true),
        (r#"{ $.eventType IS NULL }"#, false),
        (r#"{ $.missing IS NULL }"#, false),
        (r#"{ $.flag IS TRUE }"#, true),
        (r#"{ $.flag IS FALSE }"#, false),
        (r#"{ $.off IS FALSE }"#, true),
        (r#"{ $.missing NOT EXISTS }"#, true),
        (r#"{ $.eventType NOT EXISTS }"#, false),
        (r#"{ $.SomeObject NOT EXISTS }"#, false),
        (r#"{ $.nested.deeper.gone NOT EXISTS }"#, true),
        // missing fields: both = and != are false
        (r#"{ $.missing = "x" }"#, false),
        (r#"{ $.missing != "x" }"#, false),
        // objects and arrays don't match a comparison
        (r#"{ $.user = "x" }"#, false),
        (r#"{ $.user != "x" }"#, false),
        // nested fields, array indexes, bracket names
        (r#"{ $.user.id = 1 }"#, true),
        (r#"{ $.user.email = "John.Stiles@example.com" }"#, true),
        (r#"{ $.arrayKey[0] = "value" }"#, true),
        (r#"{ $.arrayKey[1] = "value" }"#, false),
        (r#"{ $.arrayKey[9] = "value" }"#, false),
        (r#"{ $.objectList[1].id = 2 }"#, true),
        (r#"{ $.coordinates[1][2] = 6 }"#, true),
        (r#"{ $.['cluster.name'] = "c" }"#, true),
        (r#"{ $.nested.deeper.deepest = x }"#, true),
        // wildcard selectors
        (r#"{ $.arrayKey[*] = "another value" }"#, true),
        (r#"{ $.users[*].email = "Jane*" }"#, true),
        (r#"{ $.users[*].email = "Nobody*" }"#, false),
        (r#"{ $.user.* = 1 }"#, true),
        // regex
        (r#"{ $.eventType = %Trail% }"#, true),
        (r#"{ $.eventType = %^Trail% }"#, false),
        (r#"{ $.arrayKey[*] = %val.{2}% }"#, true),
        (r#"{ $.sourceIPAddress = %111\.111\.111\.1[0-9]{1,2}% }"#, true),
        // && and || with parentheses and the documented precedence
        (r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#, true),
        (r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }"#, true),
        (r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }"#, false),
        (r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#, false),
        (r#"{ $.latency = 1 && $.latency = 42 || $.flag IS TRUE }"#, true),
        (r#"{ $.latency = 1 && ($.latency = 42 || $.flag IS TRUE) }"#, false),
        (r#"{ ((($.latency = 42))) }"#, true),
        // free whitespace and newlines
        ("{\n  $.eventType=\"UpdateTrail\"\n  &&\n\t$.latency>=42\n}", true),
        (r#"{$.eventType="UpdateTrail"&&$.latency=42}"#, true),
        (r#"  { $.eventType = "UpdateTrail" }  "#, true),
    ];
    let event = event();
    for (source, expected) in cases {
        let pattern = FilterPattern::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(pattern.form(), PatternForm::Json, "{source}");
        assert_eq!(pattern.matches(&event), *expected, "{source}");
    }
}

#[test]
fn json_pattern_does_not_match_non_json_event() {
    let pattern = FilterPattern::parse(r#"{ $.a = "b" }"#).unwrap();
    assert!(!pattern.matches(&LogEvent::from_text("a = b")));
}

/// (pattern, column, part of the message)
#[test]
fn parse_errors_say_where_and_why() {
    let cases: &[(&str, usize, &str)] = &[
        (r#"{ $.errorCode = }"#, 17, "expected a value after `=`"),
        (r#"{ ($.eventName = "x" }"#, 22, "expected `)` to close the `(` at column 3"),
        (r#"{ $.eventName = "x" "#, 21, "expected `}` to close the JSON pattern"),
        (r#"{ $.eventName "x" }"#, 15, "expected an operator"),
        (r#"{ eventName = "x" }"#, 3, "expected a property selector"),
        (r#"{ $.a = "x }"#, 9, "never closed"),
        (r#"{ $.a > "x" }"#, 7, "compares numbers"),
        (r#"{ $.a IS NOT NULL }"#, 7, "`IS NOT` is not supported"),
        (r#"{ $.a EXISTS }"#, 7, "only `NOT EXISTS`"),
        (r#"{ $.a NOT THERE }"#, 11, "expected `EXISTS`"),
        (r#"{ $ = 1 }"#, 4, "after `$`"),
        (r#"{ $.a[x] = 1 }"#, 7, "expected an array index"),
        (r#"{ $.a == 1 }"#, 8, "use `=`"),
        (r#"{ $.a = 1 } extra"#, 13, "after the closing `}`"),
        (r#"{ $.a = 1 &&  }"#, 15, "expected a property selector"),
        (r#"{ $.a = %(x)% }"#, 10, "not allowed"),
        (r#"{ $.a[*].b[*] = 1 }"#, 3, "at most 1 wildcard"),
        (r#"{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }"#, 45, "at most 3 wildcard"),
        (r#"{ $.a = %a% || $.b = %b% || $.c = %c% }"#, 35, "at most 2 regular"),
        (r#"[a, b"#, 6, "expected `,` or `]`"),
        (r#"[a = , b]"#, 6, "expected a value after `=`"),
        (r#"[w1=ERROR || w2=WARN, w2]"#, 14, "can only test `w1`"),
    ];
    for (source, column, message) in cases {
        match FilterPattern::parse(source) {
            Ok(_) => panic!("{source}: parsed, expected an error"),
            Err(e) => {
                assert!(e.message.contains(message), "{source}: message {:?} lacks {message:?}", e.message);
                assert_eq!(e.column, *column, "{source}: {e}");
            }
        }
    }
}

#[test]
fn parse_error_display_reads_as_a_sentence() {
    let err = FilterPattern::parse(r#"{ $.errorCode = }"#).unwrap_err();
    assert_eq!(err.to_string(), "expected a value after `=`, found `}` at column 17");
}

#[test]
fn overlong_patterns_are_refused() {
    let long = format!("{{ $.a = \"{}\" }}", "x".repeat(1100));
    let err = FilterPattern::parse(&long).unwrap_err();
    assert!(err.message.contains("at most 1024"), "{err}");
    let exactly = format!("{{ $.a = \"{}\" }}", "x".repeat(MAX_PATTERN_LEN - 12));
    assert_eq!(exactly.chars().count(), MAX_PATTERN_LEN);
    assert!(FilterPattern::parse(&exactly).is_ok());
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    let err = FilterPattern::parse(&deep).unwrap_err();
    assert!(err.message.contains("nested deeper"), "{err}");
    let fine = format!("{{ {}$.a = 1{} }}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    assert!(FilterPattern::parse(&fine).unwrap().matches(&LogEvent::from_json(json!({"a": 1}))));
}

/// (pattern, event text, expected)
#[test]
fn term_patterns_match_raw_text() {
    let cases: &[(&str, &str, bool)] = &[
        ("", "anything", true),
        ("   ", "anything", true),
        ("\" \"", "anything", true),
        ("ERROR", "[ERROR 400] BAD REQUEST", true),
        ("ERROR", "[error 400] bad request", false),
        ("ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS", true),
        ("ERROR ARGUMENTS", "[ERROR 400] BAD REQUEST", false),
        ("?ERROR ?ARGUMENTS", "[WARN] MISSING ARGUMENTS", true),
        ("?ERROR ?ARGUMENTS", "[WARN] REQUEST", false),
        ("?ERROR ?ARGUMENTS REQUEST", "[INFO] REQUEST FAILED", true), // ? ignored with plain terms
        ("ERROR -ARGUMENTS", "[ERROR 400] BAD REQUEST", true),
        ("ERROR -ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS", false),
        ("-DEBUG", "INFO all good", true),
        ("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL SERVER ERROR", true),
        ("\"INTERNAL SERVER ERROR\"", "[ERROR 500] INTERNAL ERROR", false),
        ("AccessDenied", r#"{"errorCode":"AccessDenied"}"#, true),
        ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", true),
        ("%^\\[SUCCESS%", "[ERROR 401] UNAUTHORIZED REQUEST", false),
        ("%^\\[SUCCESS%", "[SUCCESS 200] AUTHORIZED REQUEST", true),
    ];
    for (source, text, expected) in cases {
        let pattern = FilterPattern::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(pattern.matches(&LogEvent::from_text(*text)), *expected, "{source} on {text}");
    }
}

/// (pattern, event text, expected)
#[test]
fn space_delimited_patterns_match_by_position() {
    let access = r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    let cases: &[(&str, &str, bool)] = &[
        ("[ip, user, username, timestamp, request, status_code, bytes]", access, true),
        ("[ip, user, username, timestamp, request, status_code]", access, false),
        ("[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]", access, true),
        ("[ip, user, username, timestamp, request = *.php*, status_code = 4*, bytes]", access, false),
        (r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]", access, true),
        ("[..., request = *.html*, status_code = 4*, bytes]", access, true),
        ("[..., status_code = 404 || status_code = 410, bytes]", access, true),
        ("[..., status_code = 500 || status_code = 410, bytes]", access, false),
        ("[..., status_code >= 400 && status_code < 500, bytes > 1000]", access, true),
        ("[..., bytes < 1000]", access, false),
        ("[ip, ...]", access, true),
        ("[w1=ERROR, w2]", "ERROR 09/25/2014 12:00:02 Failed to process request", false),
        ("[w1=ERROR, ...]", "ERROR 09/25/2014 12:00:02 Failed to process request", true),
        ("[w1=ERROR || w1=WARNING, ...]", "WARNING 09/25/2014 12:00:02 Invalid user request", true),
        ("[w1!=ERROR && w1!=WARNING, ...]", "WARNING 09/25/2014 12:00:02 Invalid user request", false),
        ("[w1!=ERROR && w1!=WARNING, ...]", "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200", true),
        ("[..., url=%/service/resource/[0-9]+$%, response_time]", "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200", true),
    ];
    for (source, text, expected) in cases {
        let pattern = FilterPattern::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(pattern.form(), PatternForm::SpaceDelimited);
        assert_eq!(pattern.matches(&LogEvent::from_text(*text)), *expected, "{source} on {text}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("&&".to_owned()),
            Just("||".to_owned()),
            Just("$.".to_owned()),
            Just("$.a".to_owned()),
            Just("[*]".to_owned()),
            Just("[0]".to_owned()),
            Just(".*".to_owned()),
            Just("=".to_owned()),
            Just("!=".to_owned()),
            Just(">=".to_owned()),
            Just("\"".to_owned()),
            Just("%".to_owned()),
            Just("*".to_owned()),
            Just("IS NULL".to_owned()),
            Just("NOT EXISTS".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just("...".to_owned()),
            Just("?".to_owned()),
            Just("-".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            "[a-zA-Z0-9_.]{0,6}",
            any::<char>().prop_map(String::from),
        ]
    }

    fn comparison() -> impl Strategy<Value = String> {
        let selector = prop_oneof![Just("$.a"), Just("$.b.c"), Just("$.arr[0]"), Just("$.arr[*]")];
        let equality = (prop_oneof![Just("="), Just("!=")], prop_oneof![Just("1"), Just("\"x*\""), Just("y"), Just("-2.5")]);
        let relational = (prop_oneof![Just("<"), Just(">="), Just(">"), Just("<=")], prop_oneof![Just("1"), Just("-2.5"), Just("2e0")]);
        (selector, prop_oneof![equality, relational]).prop_map(|(s, (o, v))| format!("{s} {o} {v}"))
    }

    fn expression() -> impl Strategy<Value = String> {
        comparison().prop_recursive(6, 40, 4, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
                inner.prop_map(|a| format!("({a})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// Any text — well-formed or not — parses or fails with an error inside the input.
        #[test]
        fn parser_never_panics_and_errors_point_inside(parts in proptest::collection::vec(fragment(), 0..60)) {
            let source: String = parts.concat();
            let length = source.chars().count();
            match FilterPattern::parse(&source) {
                Ok(pattern) => {
                    let _ = pattern.matches(&LogEvent::from_json(serde_json::json!({"a": 1, "b": {"c": "x"}, "arr": [1, "y"]})));
                    let _ = pattern.matches(&LogEvent::from_text(source.clone()));
                }
                Err(e) => prop_assert!(e.column >= 1 && e.column <= length.max(MAX_PATTERN_LEN) + 1, "{e}"),
            }
        }

        /// Well-formed expressions always parse, and wrapping the whole in parentheses
        /// changes no result.
        #[test]
        fn generated_expressions_parse_and_grouping_the_whole_changes_nothing(expr in expression(), a in 0..3i64, c in "[xyz]{0,2}") {
            let source = format!("{{ {expr} }}");
            prop_assume!(source.chars().count() <= MAX_PATTERN_LEN);
            prop_assume!(source.matches("[*]").count() <= MAX_WILDCARD_SELECTORS_PER_PATTERN);
            let pattern = FilterPattern::parse(&source).map_err(|e| TestCaseError::fail(format!("{source}: {e}")))?;
            let event = serde_json::json!({"a": a, "b": {"c": c}, "arr": [1, "y"]});
            let parenthesized = format!("{{ ({expr}) }}");
            let same = FilterPattern::parse(&parenthesized).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(pattern.matches(&LogEvent::from_json(event.clone())), same.matches(&LogEvent::from_json(event)));
        }

        /// `A || B && C` always equals `A || (B && C)`.
        #[test]
        fn and_binds_tighter_than_or(a in comparison(), b in comparison(), c in comparison(), x in 0..3i64) {
            let flat = FilterPattern::parse(&format!("{{ {a} || {b} && {c} }}")).unwrap();
            let grouped = FilterPattern::parse(&format!("{{ {a} || ({b} && {c}) }}")).unwrap();
            let event = LogEvent::from_json(serde_json::json!({"a": x, "b": {"c": "x1"}, "arr": [x]}));
            prop_assert_eq!(flat.matches(&event), grouped.matches(&event));
        }
    }
}
