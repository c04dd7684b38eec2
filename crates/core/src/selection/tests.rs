use super::*;

/// The lookup orgwatch makes: the two system fields it knows (when it knows them), no other.
fn system(account: Option<&str>, region: Option<&str>) -> impl Fn(&str) -> Option<String> {
    let account = account.map(str::to_owned);
    let region = region.map(str::to_owned);
    move |field: &str| match field {
        "@aws.account" => account.clone(),
        "@aws.region" => region.clone(),
        _ => None,
    }
}

/// (criteria, expected column, part of the message)
#[test]
fn parse_errors_say_where_and_why() {
    let too_long = format!("@aws.region = \"{}\"", "a".repeat(MAX_CRITERIA_LEN));
    let too_deep = "(".repeat(MAX_NESTING + 1) + "@aws.region = \"a\"" + &")".repeat(MAX_NESTING + 1);
    let cases: Vec<(&str, usize, &str)> = vec![
        // the criteria as a whole
        ("", 1, "the criteria are empty (an empty fieldSelectionCriteria means no criteria"),
        (" \n\t ", 1, "the criteria are empty"),
        (&too_long, MAX_CRITERIA_LEN + 1, "the criteria are 2016 characters long; CloudWatch accepts at most 2000"),
        (&too_deep, MAX_NESTING + 1, "nesting deeper than 32 levels of parentheses"),
        // values
        ("@aws.region = \"us-east-1", 15, "the quoted value is never closed"),
        ("@aws.region =", 14, "expected a value in double quotes after =, found the end of the criteria"),
        ("@aws.region != ", 16, "expected a value in double quotes after !=, found the end of the criteria"),
        ("@aws.region = 'us-east-1'", 15, "values are written in double quotes, not single quotes"),
        ("@aws.region = us-east-1", 15, "expected a value in double quotes after =, found 'us'"),
        ("@aws.account = 123456789012", 16, "expected a value in double quotes after =, found '123456789012'"),
        ("@aws.account = [\"1\", \"2\"]", 16, "= compares with one value; use IN or NOT IN for a list"),
        ("@aws.region = \"a\\\"b\"", 17, "a backslash in a value: CloudWatch does not document escapes"),
        // lists
        ("@aws.account IN \"123456789012\"", 17, "IN takes a list in square brackets, such as [\"a\", \"b\"]"),
        ("@aws.account IN", 16, "expected '[' to open the list after IN, found the end of the criteria"),
        ("@aws.account IN []", 17, "an empty list after IN: the documentation shows none"),
        ("@aws.account NOT IN [ ]", 21, "an empty list after NOT IN"),
        ("LogGroupName NOT IN ('a', 'b')", 21, "the list after NOT IN is written in square brackets, not parentheses"),
        ("@aws.account IN [\"1\",]", 22, "expected a value in double quotes in the list, found ']'"),
        ("@aws.account IN [\"1\" \"2\"]", 22, "expected ',' or ']' in the list opened at column 17, found '\"'"),
        ("@aws.account IN [\"1\"", 21, "expected ',' or ']' in the list opened at column 17, found the end of the criteria"),
        ("@aws.account IN ['1']", 18, "values are written in double quotes, not single quotes"),
        // operators
        ("@aws.region", 12, "expected =, !=, IN or NOT IN after @aws.region, found the end of the criteria"),
        ("@aws.region == \"us-east-1\"", 13, "unknown operator '==': write = for equality"),
        ("@aws.region < \"b\"", 13, "unknown operator '<': CloudWatch documents =, !=, IN or NOT IN"),
        ("@aws.region <> \"b\"", 13, "unknown operator '<>'"),
        ("@aws.region >= \"b\"", 13, "unknown operator '>='"),
        ("@aws.region ! \"b\"", 13, "unknown operator '!'"),
        ("@aws.region !== \"b\"", 13, "unknown operator '!=='"),
        ("@aws.region LIKE \"us-%\"", 13, "LIKE is not documented for fieldSelectionCriteria"),
        ("@aws.region NOT LIKE \"us-%\"", 13, "NOT LIKE is not documented for fieldSelectionCriteria"),
        ("@aws.account NOT [\"1\"]", 18, "expected IN after NOT, found '['"),
        ("@aws.region CONTAINS \"us\"", 13, "expected =, !=, IN or NOT IN after @aws.region, found 'CONTAINS'"),
        // keywords are upper case
        ("@aws.region = \"a\" and @aws.account = \"1\"", 19, "keywords are upper case: write AND, not and"),
        ("@aws.region = \"us-east-1\" or @aws.account IN [\"123456789012\"]", 27, "write OR, not or"),
        ("@aws.account in [\"1\"]", 14, "write IN, not in"),
        ("@aws.account not in [\"1\"]", 14, "write NOT, not not"),
        ("@aws.account NOT In [\"1\"]", 18, "write IN, not In"),
        // fields and conditions
        ("NOT @aws.region = \"a\"", 1, "found 'NOT' (CloudWatch documents NOT only in NOT IN)"),
        ("\"us-east-1\" = @aws.region", 1, "found '\"' (a condition starts with the field, such as @aws.region = \"us-east-1\")"),
        ("@ = \"a\"", 2, "expected a field name after '@', found ' '"),
        ("@aws. = \"a\"", 6, "expected the rest of the field name after '.', found ' '"),
        ("in = \"a\"", 1, "expected a condition (a field such as @aws.region), found 'in'"),
        // joining conditions
        ("@aws.region = \"a\" AND", 22, "expected a condition after AND (a field such as @aws.region), found the end of the criteria"),
        ("@aws.region = \"a\" OR OR @aws.region = \"b\"", 22, "expected a condition after OR (a field such as @aws.region), found 'OR'"),
        ("AND @aws.region = \"a\"", 1, "expected a condition (a field such as @aws.region), found 'AND'"),
        ("@aws.region = \"a\" @aws.account = \"1\"", 19, "expected AND or OR between conditions, found '@aws.account'"),
        ("@aws.region = \"a\" && @aws.account = \"1\"", 19, "expected AND or OR between conditions, found '&'"),
        // parentheses
        ("(@aws.region = \"a\"", 19, "expected AND, OR or ')' to close the '(' at column 1, found the end of the criteria"),
        ("@aws.region = \"a\")", 18, "unmatched ')'"),
        ("()", 2, "expected a condition after '(' (a field such as @aws.region), found ')'"),
        // characters are counted, not bytes
        ("@aws.region = \"東京\" AND é = \"x\"", 24, "expected a condition after AND (a field such as @aws.region), found 'é'"),
        ("@aws.region = \"😀\" OR", 21, "expected a condition after OR (a field such as @aws.region), found the end of the criteria"),
        ("@aws.région = \"a\"", 7, "expected =, !=, IN or NOT IN after @aws.r, found 'égion'"),
        ("@aws.region\u{a0}= \"a\"", 12, "expected =, !=, IN or NOT IN after @aws.region, found '\u{a0}'"),
    ];
    assert!(cases.len() >= 20);
    let mut wrong = Vec::new();
    for (text, column, part) in &cases {
        match Criteria::parse(text) {
            Ok(criteria) => wrong.push(format!("{text:?}: parsed as {criteria}, expected an error")),
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
    let err = Criteria::parse("@aws.region = \"a\" AND").unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected a condition after AND (a field such as @aws.region), found the end of the criteria at column 22"
    );
}

#[test]
fn limits_are_inclusive() {
    let longest = format!("@aws.region = \"{}\"", "a".repeat(MAX_CRITERIA_LEN - 16));
    assert_eq!(longest.chars().count(), MAX_CRITERIA_LEN);
    assert!(Criteria::parse(&longest).is_ok());
    let multibyte = format!("@aws.region = \"{}\"", "é".repeat(MAX_CRITERIA_LEN - 16));
    assert_eq!(multibyte.chars().count(), MAX_CRITERIA_LEN);
    assert!(Criteria::parse(&multibyte).is_ok(), "characters, not bytes, are counted");
    let deepest = "(".repeat(MAX_NESTING) + "@aws.region = \"a\"" + &")".repeat(MAX_NESTING);
    assert!(Criteria::parse(&deepest).is_ok());
    // Far past the limit, nothing recurses: the refusal comes at the 33rd level.
    let hostile = "(".repeat(MAX_CRITERIA_LEN);
    assert_eq!(Criteria::parse(&hostile).unwrap_err().column, MAX_NESTING + 1);
    // The longest list the cap allows parses and is judged.
    let many = vec!["\"1\""; (MAX_CRITERIA_LEN - 20) / 4].join(",");
    let list = format!("@aws.account IN [{many}]");
    assert!(list.chars().count() <= MAX_CRITERIA_LEN);
    let criteria = Criteria::parse(&list).unwrap();
    assert_eq!(criteria.selects(&system(Some("1"), None)), Selected::Yes);
}

/// (criteria, fields() in order, canonical form, relies on precedence)
#[test]
fn parses_as_cloudwatch_documents() {
    let cases: Vec<(&str, Vec<&str>, &str, bool)> = vec![
        // the documentation's examples
        ("@aws.region = \"us-east-1\"", vec!["@aws.region"], "@aws.region = \"us-east-1\"", false),
        (
            "@aws.account IN [\"123456789012\", \"987654321098\"]",
            vec!["@aws.account"],
            "@aws.account IN [\"123456789012\", \"987654321098\"]",
            false,
        ),
        (
            "LogGroupName NOT IN [\"LogGroupToExclude1\", \"LogGroupToExclude2\"]",
            vec!["LogGroupName"],
            "LogGroupName NOT IN [\"LogGroupToExclude1\", \"LogGroupToExclude2\"]",
            false,
        ),
        // whitespace is free
        ("@aws.region=\"us-east-1\"AND@aws.account!=\"1\"", vec!["@aws.region", "@aws.account"], "@aws.region = \"us-east-1\" AND @aws.account != \"1\"", false),
        ("  @aws.account  NOT \n IN[\"1\",\"2\"]  ", vec!["@aws.account"], "@aws.account NOT IN [\"1\", \"2\"]", false),
        ("@aws.region = \"a\"\nOR\t@aws.region = \"b\"", vec!["@aws.region"], "@aws.region = \"a\" OR @aws.region = \"b\"", false),
        // grouping
        (
            "(@aws.region = \"a\" OR @aws.region = \"b\") AND @aws.account = \"1\"",
            vec!["@aws.region", "@aws.account"],
            "(@aws.region = \"a\" OR @aws.region = \"b\") AND @aws.account = \"1\"",
            false,
        ),
        (
            "@aws.region = \"a\" OR @aws.region = \"b\" AND @aws.account = \"1\"",
            vec!["@aws.region", "@aws.account"],
            "@aws.region = \"a\" OR @aws.region = \"b\" AND @aws.account = \"1\"",
            true,
        ),
        ("(( @aws.region = \"a\" ))", vec!["@aws.region"], "((@aws.region = \"a\"))", false),
        // values are anything between double quotes but a quote or a backslash
        ("@aws.region = \"\"", vec!["@aws.region"], "@aws.region = \"\"", false),
        ("@aws.region = \"a b, [c] (d) AND 'e'\"", vec!["@aws.region"], "@aws.region = \"a b, [c] (d) AND 'e'\"", false),
        ("@aws.region = \"東京\"", vec!["@aws.region"], "@aws.region = \"東京\"", false),
        ("@aws.region IN [\"x\", \"x\"]", vec!["@aws.region"], "@aws.region IN [\"x\", \"x\"]", false),
        // fields are names as written
        ("@aws.Region = \"a\" OR @aws.region = \"b\"", vec!["@aws.Region", "@aws.region"], "@aws.Region = \"a\" OR @aws.region = \"b\"", false),
        ("_x.y1 = \"1\" AND @custom.field_2 != \"x\"", vec!["_x.y1", "@custom.field_2"], "_x.y1 = \"1\" AND @custom.field_2 != \"x\"", false),
        ("ANDROID = \"x\"", vec!["ANDROID"], "ANDROID = \"x\"", false),
        ("@aws.account.2 = \"x\"", vec!["@aws.account.2"], "@aws.account.2 = \"x\"", false),
    ];
    let mut wrong = Vec::new();
    for (text, fields, canonical, mixed) in &cases {
        match Criteria::parse(text) {
            Err(e) => wrong.push(format!("{text:?}: {e}")),
            Ok(criteria) => {
                let shown = criteria.to_string();
                if criteria.fields() != *fields || shown != *canonical || criteria.relies_on_precedence() != *mixed {
                    wrong.push(format!(
                        "{text:?}\n   expected {fields:?} {canonical:?} {mixed}\n   got {:?} {shown:?} {}",
                        criteria.fields(),
                        criteria.relies_on_precedence()
                    ));
                }
                match Criteria::parse(&shown) {
                    Ok(again) if again == criteria && again.to_string() == shown => {}
                    other => wrong.push(format!("{shown:?} does not parse back: {other:?}")),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[derive(Debug)]
enum Expect {
    Yes,
    No,
    /// A part of why.
    Undecidable(&'static str),
}

const US: Option<&str> = Some("us-east-1");
const EU: Option<&str> = Some("eu-west-1");
const AP: Option<&str> = Some("ap-south-1");
const ONE: Option<&str> = Some("111111111111");
const TWO: Option<&str> = Some("222222222222");

/// (criteria, @aws.account, @aws.region, expected); no other field is known.
#[test]
fn selection_is_exact() {
    let mix = "@aws.region = \"us-east-1\" OR @aws.region = \"eu-west-1\" AND @aws.account = \"222222222222\"";
    let chain = "@aws.account = \"111111111111\" AND @aws.region = \"us-east-1\" OR @aws.account = \"222222222222\"";
    let unknowns = |n: usize| {
        let any: Vec<String> = (1..=n).map(|i| format!("@x{i} = \"a\"")).collect();
        format!("({}) AND @x0 = \"a\" AND @x0 = \"b\"", any.join(" OR "))
    };
    let six = unknowns(6);
    let twelve = unknowns(12);
    let cases: Vec<(&str, Option<&str>, Option<&str>, Expect)> = vec![
        // the documentation's examples
        ("@aws.region = \"us-east-1\"", ONE, US, Expect::Yes),
        ("@aws.region = \"us-east-1\"", ONE, EU, Expect::No),
        ("@aws.region = \"us-east-1\"", ONE, Some("US-EAST-1"), Expect::No),
        ("@aws.region = \"us-east-1\"", ONE, Some("us-east-1 "), Expect::No),
        ("@aws.account IN [\"123456789012\", \"987654321098\"]", Some("987654321098"), US, Expect::Yes),
        ("@aws.account IN [\"123456789012\", \"987654321098\"]", ONE, US, Expect::No),
        // NOT IN and !=
        ("@aws.account NOT IN [\"123456789012\"]", Some("123456789012"), US, Expect::No),
        ("@aws.account NOT IN [\"123456789012\"]", ONE, US, Expect::Yes),
        ("@aws.region != \"us-east-1\"", ONE, EU, Expect::Yes),
        ("@aws.region != \"us-east-1\"", ONE, US, Expect::No),
        ("@aws.region = \"\"", ONE, Some(""), Expect::Yes),
        // AND and OR
        ("@aws.region = \"us-east-1\" AND @aws.account = \"111111111111\"", ONE, US, Expect::Yes),
        ("@aws.region = \"us-east-1\" AND @aws.account = \"111111111111\"", TWO, US, Expect::No),
        ("@aws.region = \"us-east-1\" OR @aws.account = \"111111111111\"", ONE, EU, Expect::Yes),
        ("@aws.region = \"us-east-1\" OR @aws.account = \"111111111111\"", TWO, EU, Expect::No),
        ("(@aws.region = \"us-east-1\" OR @aws.region = \"eu-west-1\") AND @aws.account = \"111111111111\"", TWO, US, Expect::No),
        ("@aws.region = \"us-east-1\" OR (@aws.region = \"eu-west-1\" AND @aws.account = \"111111111111\")", TWO, US, Expect::Yes),
        // precedence: answered only where every grouping agrees
        (mix, ONE, US, Expect::Undecidable("depends on how AND and OR group without parentheses")),
        (mix, TWO, US, Expect::Yes),
        (mix, TWO, EU, Expect::Yes),
        (mix, ONE, EU, Expect::No),
        (mix, TWO, AP, Expect::No),
        (chain, ONE, US, Expect::Yes),
        (chain, ONE, EU, Expect::No),
        (chain, TWO, EU, Expect::Undecidable("how AND and OR group")),
        // unknown fields: undecidable only where the answer depends on them
        ("@aws.region = \"us-east-1\" OR @x = \"a\"", ONE, US, Expect::Yes),
        ("@aws.region = \"us-east-1\" OR @x = \"a\"", ONE, EU, Expect::Undecidable("depends on the value of @x, which orgwatch does not know")),
        ("@aws.region = \"us-east-1\" AND @x = \"a\"", ONE, EU, Expect::No),
        ("@aws.region = \"us-east-1\" AND @x = \"a\"", ONE, US, Expect::Undecidable("the value of @x")),
        ("LogGroupName NOT IN [\"LogGroupToExclude1\"]", ONE, US, Expect::Undecidable("the value of LogGroupName")),
        ("@aws.region = \"us-east-1\"", ONE, None, Expect::Undecidable("the value of @aws.region")),
        ("@aws.account = \"1\" AND @aws.region = \"r\"", None, None, Expect::Undecidable("the values of @aws.account and @aws.region")),
        ("@aws.account = \"1\" AND @aws.region = \"r\"", None, EU, Expect::No),
        ("@x = \"a\" AND @x = \"b\"", ONE, US, Expect::No),
        ("@x IN [\"a\", \"b\"] AND @x NOT IN [\"b\", \"a\"]", ONE, US, Expect::No),
        ("@x = \"a\" AND @y = \"b\" AND @x != \"a\"", ONE, US, Expect::No),
        ("@x = \"a\" OR @x != \"a\"", ONE, US, Expect::Undecidable("the value of @x")),
        ("@x = \"a\" OR @x = \"b\" OR @aws.region = \"us-east-1\"", ONE, EU, Expect::Undecidable("the value of @x")),
        ("@x = \"a\" OR @aws.region = \"us-east-1\" AND @aws.account = \"111111111111\"", TWO, US, Expect::Undecidable("the value of @x")),
        ("@x = \"a\" OR @aws.region = \"us-east-1\" AND @aws.account = \"111111111111\"", TWO, US, Expect::Undecidable("; the answer depends on how AND and OR group")),
        (&six, ONE, US, Expect::No),
        (&twelve, ONE, US, Expect::Undecidable("too many combinations of their values to try within 1000000 steps")),
    ];
    assert!(cases.len() >= 20);
    let mut wrong = Vec::new();
    for (text, account, region, expected) in &cases {
        let criteria = Criteria::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got = criteria.selects(&system(*account, *region));
        let ok = match (expected, &got) {
            (Expect::Yes, Selected::Yes) | (Expect::No, Selected::No) => true,
            (Expect::Undecidable(part), Selected::Undecidable(why)) => why.contains(part),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{text} with {account:?} {region:?}\n   expected {expected:?}\n   got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn each_field_is_looked_up_once() {
    let criteria = Criteria::parse("@aws.region = \"a\" OR @aws.region = \"b\" OR @x = \"c\" OR @aws.region != \"d\"").unwrap();
    let asked = std::cell::RefCell::new(Vec::new());
    let lookup = |field: &str| {
        asked.borrow_mut().push(field.to_owned());
        None
    };
    let _ = criteria.selects(&lookup);
    assert_eq!(*asked.borrow(), ["@aws.region", "@x"]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const FIELDS: [&str; 3] = ["@aws.account", "@aws.region", "@x"];
    /// The strings generated criteria compare each field with.
    const VALUES: [[&str; 3]; 3] = [
        ["111111111111", "222222222222", "333333333333"],
        ["us-east-1", "eu-west-1", "US-EAST-1"],
        ["a", "b", "a b"],
    ];
    /// A value of each field no generated criteria name.
    const OTHER: [&str; 3] = ["999999999999", "ap-south-1", "zzz"];

    /// Criteria as the test knows them, independently of the parser.
    #[derive(Clone, Debug)]
    enum T {
        /// Field, operator (0 `=`, 1 `!=`, 2 `IN`, 3 `NOT IN`) and indices into its VALUES.
        Cmp(usize, u8, Vec<usize>),
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

    const GROUPINGS: [Grouping; 3] = [Grouping::AndFirst, Grouping::LeftToRight, Grouping::OrFirst];

    fn write(t: &T, out: &mut String) {
        match t {
            T::Cmp(field, op, values) => {
                let quoted: Vec<String> = values.iter().map(|v| format!("\"{}\"", VALUES[*field][*v])).collect();
                match op {
                    0 => out.push_str(&format!("{} = {}", FIELDS[*field], quoted[0])),
                    1 => out.push_str(&format!("{} != {}", FIELDS[*field], quoted[0])),
                    2 => out.push_str(&format!("{} IN [{}]", FIELDS[*field], quoted.join(", "))),
                    _ => out.push_str(&format!("{} NOT IN [{}]", FIELDS[*field], quoted.join(", "))),
                }
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

    /// The same criteria written tightly: no optional whitespace.
    fn tight(t: &T) -> String {
        text(t).replace(" = ", "=").replace(" != ", "!=").replace(", ", ",").replace(" IN [", " IN[")
    }

    fn mixes(t: &T) -> bool {
        match t {
            T::Cmp(..) => false,
            T::Group(x) => mixes(x),
            T::Chain(first, rest) => {
                (rest.iter().any(|(and, _)| *and) && rest.iter().any(|(and, _)| !*and)) || mixes(first) || rest.iter().any(|(_, x)| mixes(x))
            }
        }
    }

    /// The criteria with every comparison and every operator turned into its opposite.
    fn negate(t: &T) -> T {
        match t {
            T::Cmp(field, op, values) => T::Cmp(*field, op ^ 1, values.clone()),
            T::Group(x) => T::Group(Box::new(negate(x))),
            T::Chain(first, rest) => T::Chain(Box::new(negate(first)), rest.iter().map(|(and, x)| (!*and, negate(x))).collect()),
        }
    }

    /// The truth of `t` when field `i` holds `world[i]` (None: missing from the event), in
    /// three values: a missing field equals nothing, and is not known to differ.
    fn truth(t: &T, world: &[Option<&str>; 3], grouping: Grouping) -> Option<bool> {
        let and = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        };
        let or = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        };
        match t {
            T::Cmp(field, op, values) => match world[*field] {
                None => if *op == 0 || *op == 2 { Some(false) } else { None },
                Some(v) => {
                    let hit = values.iter().any(|i| VALUES[*field][*i] == v);
                    Some(if *op == 0 || *op == 2 { hit } else { !hit })
                }
            },
            T::Group(x) => truth(x, world, grouping),
            T::Chain(first, rest) => {
                let first = truth(first, world, grouping);
                let rest: Vec<(bool, Option<bool>)> = rest.iter().map(|(a, x)| (*a, truth(x, world, grouping))).collect();
                match grouping {
                    Grouping::LeftToRight => rest.iter().fold(first, |acc, (a, v)| if *a { and(acc, *v) } else { or(acc, *v) }),
                    Grouping::AndFirst | Grouping::OrFirst => {
                        // Split on the loose operator, combine runs with the tight one.
                        let loose_is_and = grouping == Grouping::OrFirst;
                        let mut groups = vec![first];
                        for (a, v) in rest {
                            if a == loose_is_and {
                                groups.push(v);
                            } else if let Some(last) = groups.last_mut() {
                                *last = if a { and(*last, v) } else { or(*last, v) };
                            }
                        }
                        groups.into_iter().reduce(|x, y| if loose_is_and { and(x, y) } else { or(x, y) }).flatten()
                    }
                }
            }
        }
    }

    /// What `selects` must say, by brute force over `worlds` and every grouping the criteria
    /// leave open.
    fn expected(t: &T, worlds: &[[Option<&str>; 3]]) -> Option<bool> {
        let groupings: &[Grouping] = if mixes(t) { &GROUPINGS } else { &GROUPINGS[..1] };
        let outcomes: Vec<Option<bool>> = worlds.iter().flat_map(|w| groupings.iter().map(move |g| truth(t, w, *g))).collect();
        if outcomes.iter().all(|o| *o == Some(true)) {
            Some(true)
        } else if outcomes.iter().all(|o| *o == Some(false)) {
            Some(false)
        } else {
            None
        }
    }

    fn as_selected(b: Option<bool>) -> &'static str {
        match b {
            Some(true) => "Yes",
            Some(false) => "No",
            None => "Undecidable",
        }
    }

    fn kind(s: &Selected) -> &'static str {
        match s {
            Selected::Yes => "Yes",
            Selected::No => "No",
            Selected::Undecidable(_) => "Undecidable",
        }
    }

    fn unary(t: T) -> T {
        if matches!(t, T::Chain(..)) { T::Group(Box::new(t)) } else { t }
    }

    /// Criteria over the first `fields` of FIELDS.
    fn criteria(fields: usize) -> impl Strategy<Value = T> {
        let leaf = (0..fields, 0u8..4, proptest::collection::vec(0..3usize, 1..=3)).prop_map(|(field, op, mut values)| {
            if op < 2 {
                values.truncate(1);
            }
            T::Cmp(field, op, values)
        });
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| T::Group(Box::new(t))),
                (inner.clone(), proptest::collection::vec((any::<bool>(), inner), 1..4))
                    .prop_map(|(first, rest)| T::Chain(Box::new(unary(first)), rest.into_iter().map(|(and, t)| (and, unary(t))).collect())),
            ]
        })
    }

    /// A value of field `i`: one the criteria may name, or one they do not.
    fn value_of(i: usize) -> impl Strategy<Value = &'static str> {
        (0..4usize).prop_map(move |k| if k < 3 { VALUES[i][k] } else { OTHER[i] })
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(
                &[
                    "@aws.account", "@aws.region", "@x", "LogGroupName", "=", "!=", "==", "<", "IN", "NOT", "AND", "OR", "and", "LIKE",
                    "(", ")", "(", ")", "[", "]", ",", "\"", "\"us-east-1\"", "\"111111111111\"", "\"\"", "'", "\\", "@", ".", " ", " ",
                    "\n", "é", "😀",
                ][..]
            )
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ]
    }

    fn check_error(text: &str, e: &ParseError) -> Result<(), TestCaseError> {
        let length = text.chars().count();
        prop_assert!(e.column >= 1 && e.column <= length.min(MAX_CRITERIA_LEN) + 1, "{e} for {text:?}");
        prop_assert!(!e.message.is_empty());
        Ok(())
    }

    fn parsed(written: &str) -> Result<Criteria, TestCaseError> {
        Criteria::parse(written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

        /// Any text parses, or fails with a column inside it (or just past its end).
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            match Criteria::parse(&text) {
                Ok(criteria) => { let _ = criteria.selects(&system(None, None)); }
                Err(e) => check_error(&text, &e)?,
            }
        }

        /// Pieces of criteria in any order: parsed and judged, or refused with a column inside.
        #[test]
        fn token_soup_never_panics(tokens in proptest::collection::vec(token(), 0..40)) {
            let text = tokens.concat();
            match Criteria::parse(&text) {
                Ok(criteria) => {
                    let _ = criteria.selects(&system(None, None));
                    let _ = criteria.selects(&system(Some("111111111111"), Some("us-east-1")));
                    prop_assert_eq!(Criteria::parse(&criteria.to_string()), Ok(criteria));
                }
                Err(e) => check_error(&text, &e)?,
            }
        }

        /// The canonical form parses back to equal criteria, showing the same way; tightly
        /// written criteria parse to the same.
        #[test]
        fn display_round_trips(t in criteria(3)) {
            let written = text(&t);
            let criteria = parsed(&written)?;
            let shown = criteria.to_string();
            prop_assert_eq!(&shown, &written);
            let again = parsed(&shown)?;
            prop_assert_eq!(&again, &criteria);
            prop_assert_eq!(again.to_string(), shown);
            prop_assert_eq!(parsed(&tight(&t))?, criteria.clone());
            prop_assert_eq!(criteria.relies_on_precedence(), mixes(&t));
        }

        /// With both system fields known, `selects` says what evaluating the criteria under
        /// every grouping they leave open says.
        #[test]
        fn selects_agrees_with_brute_force(t in criteria(2), account in value_of(0), region in value_of(1)) {
            let written = text(&t);
            let criteria = parsed(&written)?;
            let got = criteria.selects(&system(Some(account), Some(region)));
            let want = expected(&t, &[[Some(account), Some(region), None]]);
            prop_assert_eq!(kind(&got), as_selected(want), "{} with {} {}: {:?}", written, account, region, got);
            if let Selected::Undecidable(why) = &got {
                prop_assert!(why.contains("how AND and OR group"), "{}: {}", written, why);
            }
        }

        /// Negating every comparison and swapping AND with OR negates the answer (De Morgan),
        /// and leaves an undecidable answer undecidable.
        #[test]
        fn de_morgan(t in criteria(2), account in value_of(0), region in value_of(1)) {
            let lookup = system(Some(account), Some(region));
            let plain = parsed(&text(&t))?.selects(&lookup);
            let negated = parsed(&text(&negate(&t)))?.selects(&lookup);
            let flipped = match &plain {
                Selected::Yes => Selected::No,
                Selected::No => Selected::Yes,
                Selected::Undecidable(why) => Selected::Undecidable(why.clone()),
            };
            prop_assert_eq!(negated, flipped, "{}", text(&t));
        }

        /// With a third field unknown, `selects` is exactly what every value it can take (each
        /// it is compared with, another, and missing) says; and a decided answer is what each of
        /// those values says when the lookup does give it.
        #[test]
        fn unknown_fields_are_judged_exactly(t in criteria(3), account in value_of(0), region in value_of(1)) {
            let written = text(&t);
            let criteria = parsed(&written)?;
            let got = criteria.selects(&system(Some(account), Some(region)));
            let mut worlds: Vec<[Option<&str>; 3]> = VALUES[2].iter().chain([&OTHER[2]]).map(|x| [Some(account), Some(region), Some(*x)]).collect();
            worlds.push([Some(account), Some(region), None]);
            prop_assert_eq!(kind(&got), as_selected(expected(&t, &worlds)), "{} with {} {}: {:?}", written, account, region, got);
            if kind(&got) != "Undecidable" {
                for x in VALUES[2].iter().chain([&OTHER[2]]) {
                    let given = |field: &str| if field == "@x" { Some((*x).to_owned()) } else { system(Some(account), Some(region))(field) };
                    prop_assert_eq!(criteria.selects(&given), got.clone(), "{} with @x = {}", written, x);
                }
            }
        }
    }
}
