use super::*;

const CLOUDWATCH: &str = "cloudwatch.amazonaws.com";
const TOPIC: &str = "arn:aws:sns:us-east-1:222222222222:security-alerts";
const KEY: &str = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ORG: &str = "o-exampleorgid";

fn alarm_arn(account: &str) -> String {
    format!("arn:aws:cloudwatch:us-east-1:{account}:alarm:unauthorized-api-calls")
}

/// The context of CloudWatch's publish for an alarm of `account` in the organization.
fn alarm_of(account: &str) -> Context {
    Context::new()
        .with("aws:SourceArn", [alarm_arn(account)])
        .with("aws:SourceAccount", [account])
        .with("AWS:SourceOwner", [account])
        .with("aws:SourceOrgID", [ORG])
        .with("aws:SecureTransport", ["true"])
        .with("aws:TagKeys", ["team", "env"])
        .absent("aws:PrincipalOrgID")
        .unknown("aws:SourceOrgPaths", "the account's path in the organization was not read")
}

/// Who calls what, on what, carrying what.
struct Publisher {
    service: &'static str,
    action: &'static str,
    resource: &'static str,
    context: Context,
}

/// CloudWatch publishing to the topic for an alarm of `account`.
fn publish(account: &str) -> Publisher {
    Publisher { service: CLOUDWATCH, action: "sns:Publish", resource: TOPIC, context: alarm_of(account) }
}

fn alarm() -> Publisher {
    publish("111111111111")
}

impl Publisher {
    fn service(self, service: &'static str) -> Self {
        Publisher { service, ..self }
    }
    fn action(self, action: &'static str) -> Self {
        Publisher { action, ..self }
    }
    fn resource(self, resource: &'static str) -> Self {
        Publisher { resource, ..self }
    }
    fn context(self, context: Context) -> Self {
        Publisher { context, ..self }
    }
}

#[derive(Debug)]
enum Expect {
    Allowed(usize),
    Denied(usize),
    NotAllowed,
    /// The statement, and a part of why.
    Undecidable(usize, &'static str),
}
use Expect::*;

fn check(name: &str, policy: &str, publisher: &Publisher, expected: &Expect) {
    let policy = Policy::parse(policy).unwrap_or_else(|e| panic!("{name}: {e}"));
    let request =
        AccessRequest { service: publisher.service, action: publisher.action, resource: publisher.resource, context: &publisher.context };
    let decision = policy.decide(&request);
    let ok = match (expected, &decision) {
        (Allowed(a), Decision::Allowed { by }) | (Denied(a), Decision::Denied { by }) => a == by,
        (NotAllowed, Decision::NotAllowed) => true,
        (Undecidable(a, part), Decision::Undecidable { statement, why }) => a == statement && why.contains(part),
        _ => false,
    };
    assert!(ok, "{name}: expected {expected:?}, decided {decision:?}");
}

/// One Allow statement with this principal, action, resource and condition (JSON fragments).
fn allow(principal: &str, action: &str, resource: &str, condition: &str) -> String {
    statement("Allow", principal, action, resource, condition)
}

fn statement(effect: &str, principal: &str, action: &str, resource: &str, condition: &str) -> String {
    let mut s = format!(r#"{{"Effect":"{effect}",{principal},{action}"#);
    if !resource.is_empty() {
        s.push_str(&format!(",{resource}"));
    }
    if !condition.is_empty() {
        s.push_str(&format!(r#","Condition":{condition}"#));
    }
    s.push('}');
    s
}

fn doc(statements: &[String]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

const ANYONE: &str = r#""Principal":"*""#;
const CW: &str = r#""Principal":{"Service":"cloudwatch.amazonaws.com"}"#;
const PUBLISH: &str = r#""Action":"sns:Publish""#;
const AT_TOPIC: &str = r#""Resource":"arn:aws:sns:us-east-1:222222222222:security-alerts""#;

/// An Allow to CloudWatch of sns:Publish on the topic under `condition`.
fn allow_if(condition: &str) -> String {
    doc(&[allow(CW, PUBLISH, AT_TOPIC, condition)])
}

/// An Allow that applies, and a Deny under `condition`.
fn deny_if(condition: &str) -> String {
    doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, AT_TOPIC, condition)])
}

#[test]
fn principals() {
    let principal = |p: &str| doc(&[allow(&format!(r#""Principal":{p}"#), PUBLISH, AT_TOPIC, "")]);
    let cases: Vec<(&str, String, Publisher, Expect)> = vec![
        ("*", principal(r#""*""#), alarm(), Allowed(0)),
        ("AWS *", principal(r#"{"AWS":"*"}"#), alarm(), Allowed(0)),
        ("AWS [root, *]", principal(r#"{"AWS":["arn:aws:iam::111111111111:root","*"]}"#), alarm(), Allowed(0)),
        ("Service", principal(r#"{"Service":"cloudwatch.amazonaws.com"}"#), alarm(), Allowed(0)),
        ("Service in an array, other case", principal(r#"{"Service":["events.amazonaws.com","CloudWatch.AmazonAWS.com"]}"#), alarm(), Allowed(0)),
        ("another service", principal(r#"{"Service":"events.amazonaws.com"}"#), alarm(), NotAllowed),
        ("the service, another caller", principal(r#"{"Service":"cloudwatch.amazonaws.com"}"#), alarm().service("events.amazonaws.com"), NotAllowed),
        ("account root ARN", principal(r#"{"AWS":"arn:aws:iam::111111111111:root"}"#), alarm(), NotAllowed),
        ("account id", principal(r#"{"AWS":"111111111111"}"#), alarm(), NotAllowed),
        ("role", principal(r#"{"AWS":["arn:aws:iam::111111111111:role/ops"]}"#), alarm(), NotAllowed),
        ("Federated", principal(r#"{"Federated":"cognito-identity.amazonaws.com"}"#), alarm(), NotAllowed),
        ("CanonicalUser", principal(r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#), alarm(), NotAllowed),
        ("root and service", principal(r#"{"AWS":"arn:aws:iam::111111111111:root","Service":"cloudwatch.amazonaws.com"}"#), alarm(), Allowed(0)),
        (
            "NotPrincipal in a Deny spares only the account",
            doc(&[allow(ANYONE, PUBLISH, AT_TOPIC, ""), statement("Deny", r#""NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"}"#, PUBLISH, AT_TOPIC, "")]),
            alarm(),
            Denied(1),
        ),
        (
            "NotPrincipal in a Deny spares the service",
            doc(&[allow(ANYONE, PUBLISH, AT_TOPIC, ""), statement("Deny", r#""NotPrincipal":{"Service":"cloudwatch.amazonaws.com"}"#, PUBLISH, AT_TOPIC, "")]),
            alarm(),
            Allowed(0),
        ),
        ("NotPrincipal in an Allow admits the others", doc(&[allow(r#""NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"}"#, PUBLISH, AT_TOPIC, "")]), alarm(), Allowed(0)),
        ("NotPrincipal AWS * admits no one", doc(&[allow(r#""NotPrincipal":{"AWS":"*"}"#, PUBLISH, AT_TOPIC, "")]), alarm(), NotAllowed),
    ];
    for (name, policy, publisher, expected) in &cases {
        check(name, policy, publisher, expected);
    }
}

#[test]
fn effects_actions_and_resources() {
    let action = |a: &str| doc(&[allow(CW, &format!(r#""Action":{a}"#), AT_TOPIC, "")]);
    let resource = |r: &str| doc(&[allow(CW, PUBLISH, &format!(r#""Resource":{r}"#), "")]);
    let not_resource = |r: &str| doc(&[allow(CW, PUBLISH, &format!(r#""NotResource":{r}"#), "")]);
    let cases: Vec<(&str, String, Publisher, Expect)> = vec![
        ("an Allow alone", allow_if(""), alarm(), Allowed(0)),
        ("Deny over Allow", deny_if(""), alarm(), Denied(1)),
        ("Deny first", doc(&[statement("Deny", ANYONE, PUBLISH, AT_TOPIC, ""), allow(CW, PUBLISH, AT_TOPIC, "")]), alarm(), Denied(0)),
        ("a Deny alone", doc(&[statement("Deny", ANYONE, PUBLISH, AT_TOPIC, "")]), alarm(), Denied(0)),
        ("no statements", r#"{"Statement":[]}"#.into(), alarm(), NotAllowed),
        ("a second Allow", doc(&[allow(CW, r#""Action":"sns:Subscribe""#, AT_TOPIC, ""), allow(CW, PUBLISH, AT_TOPIC, "")]), alarm(), Allowed(1)),
        ("sns:*", action(r#""sns:*""#), alarm(), Allowed(0)),
        ("SNS:PUBLISH", action(r#""SNS:PUBLISH""#), alarm(), Allowed(0)),
        ("sns:Pub*", action(r#""sns:Pub*""#), alarm(), Allowed(0)),
        ("sns:pub?ish", action(r#""sns:pub?ish""#), alarm(), Allowed(0)),
        ("sns:Sub*", action(r#""sns:Sub*""#), alarm(), NotAllowed),
        ("sns:Publis", action(r#""sns:Publis""#), alarm(), NotAllowed),
        ("*", action(r#""*""#), alarm(), Allowed(0)),
        ("s3:*", action(r#""s3:*""#), alarm(), NotAllowed),
        ("an action among others", action(r#"["sns:Subscribe","sns:publish"]"#), alarm(), Allowed(0)),
        ("NotAction of another", doc(&[allow(CW, r#""NotAction":"sns:Subscribe""#, AT_TOPIC, "")]), alarm(), Allowed(0)),
        ("NotAction of this one", doc(&[allow(CW, r#""NotAction":["sns:Subscribe","SNS:Publish"]"#, AT_TOPIC, "")]), alarm(), NotAllowed),
        (
            "a Deny of NotAction",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, r#""NotAction":"sns:Get*""#, AT_TOPIC, "")]),
            alarm(),
            Denied(1),
        ),
        ("the topic", resource(r#""arn:aws:sns:us-east-1:222222222222:security-alerts""#), alarm(), Allowed(0)),
        ("topics of the account", resource(r#""arn:aws:sns:*:222222222222:*""#), alarm(), Allowed(0)),
        ("a prefix", resource(r#""arn:aws:sns:us-east-1:222222222222:security-*""#), alarm(), Allowed(0)),
        ("?", resource(r#""arn:aws:sns:us-east-?:222222222222:security-alerts""#), alarm(), Allowed(0)),
        ("*", resource(r#""*""#), alarm(), Allowed(0)),
        ("resources compare with case", resource(r#""arn:aws:sns:us-east-1:222222222222:Security-Alerts""#), alarm(), NotAllowed),
        ("another account's", resource(r#""arn:aws:sns:us-east-1:333333333333:security-alerts""#), alarm(), NotAllowed),
        ("one of two", resource(r#"["arn:aws:sns:us-east-1:222222222222:other","arn:aws:sns:us-east-1:222222222222:security-alerts"]"#), alarm(), Allowed(0)),
        ("no Resource", doc(&[allow(CW, PUBLISH, "", "")]), alarm(), Allowed(0)),
        ("NotResource of another", not_resource(r#""arn:aws:sns:us-east-1:222222222222:other""#), alarm(), Allowed(0)),
        ("NotResource of this one", not_resource(r#""arn:aws:sns:*:222222222222:*""#), alarm(), NotAllowed),
        (
            "a Deny of NotResource that spares the topic",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, r#""NotResource":"arn:aws:sns:*:222222222222:*""#, "")]),
            alarm(),
            Allowed(0),
        ),
        (
            "a Deny of NotResource that does not",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, r#""NotResource":"arn:aws:sns:*:222222222222:other""#, "")]),
            alarm(),
            Denied(1),
        ),
        ("another resource", allow_if(""), alarm().resource("arn:aws:sns:us-east-1:222222222222:other"), NotAllowed),
        ("another action", allow_if(""), alarm().action("sns:DeleteTopic"), NotAllowed),
    ];
    for (name, policy, publisher, expected) in &cases {
        check(name, policy, publisher, expected);
    }
}

#[test]
fn conditions() {
    let cases: Vec<(&str, String, Publisher, Expect)> = vec![
        // several values OR, several keys AND, several operators AND
        ("one value", allow_if(r#"{"StringEquals":{"aws:SourceAccount":"111111111111"}}"#), alarm(), Allowed(0)),
        ("another value", allow_if(r#"{"StringEquals":{"aws:SourceAccount":"333333333333"}}"#), alarm(), NotAllowed),
        ("values OR", allow_if(r#"{"StringEquals":{"aws:SourceAccount":["333333333333","111111111111"]}}"#), alarm(), Allowed(0)),
        ("keys AND, both hold", allow_if(r#"{"StringEquals":{"aws:SourceAccount":"111111111111","aws:SourceOrgID":"o-exampleorgid"}}"#), alarm(), Allowed(0)),
        ("keys AND, one fails", allow_if(r#"{"StringEquals":{"aws:SourceAccount":"111111111111","aws:SourceOrgID":"o-other"}}"#), alarm(), NotAllowed),
        (
            "operators AND, both hold",
            allow_if(r#"{"StringEquals":{"aws:SourceAccount":"111111111111"},"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:*:111111111111:alarm:*"}}"#),
            alarm(),
            Allowed(0),
        ),
        (
            "operators AND, one fails",
            allow_if(r#"{"StringEquals":{"aws:SourceAccount":"111111111111"},"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:*:333333333333:alarm:*"}}"#),
            alarm(),
            NotAllowed,
        ),
        ("an empty Condition", allow_if("{}"), alarm(), Allowed(0)),
        ("key names ignore case", allow_if(r#"{"StringEquals":{"AWS:SOURCEACCOUNT":"111111111111"}}"#), alarm(), Allowed(0)),
        ("a number as its text", allow_if(r#"{"StringEquals":{"aws:SourceAccount":111111111111}}"#), alarm(), Allowed(0)),
        // string operators
        ("StringNotEquals, equal", allow_if(r#"{"StringNotEquals":{"aws:SourceAccount":"111111111111"}}"#), alarm(), NotAllowed),
        ("StringNotEquals, other", allow_if(r#"{"StringNotEquals":{"aws:SourceAccount":["333333333333","444444444444"]}}"#), alarm(), Allowed(0)),
        ("StringEquals compares case", allow_if(r#"{"StringEquals":{"aws:SourceOrgID":"O-EXAMPLEORGID"}}"#), alarm(), NotAllowed),
        ("StringEqualsIgnoreCase", allow_if(r#"{"StringEqualsIgnoreCase":{"aws:SourceOrgID":"O-EXAMPLEORGID"}}"#), alarm(), Allowed(0)),
        ("StringNotEqualsIgnoreCase", allow_if(r#"{"StringNotEqualsIgnoreCase":{"aws:SourceOrgID":"O-EXAMPLEORGID"}}"#), alarm(), NotAllowed),
        ("StringLike", allow_if(r#"{"StringLike":{"aws:SourceArn":"arn:aws:cloudwatch:*:111111111111:alarm:unauthorized-*"}}"#), alarm(), Allowed(0)),
        ("StringLike ?", allow_if(r#"{"StringLike":{"aws:SourceAccount":"11111111111?"}}"#), alarm(), Allowed(0)),
        ("StringLike, no match", allow_if(r#"{"StringLike":{"aws:SourceArn":"*:333333333333:*"}}"#), alarm(), NotAllowed),
        ("StringNotLike", allow_if(r#"{"StringNotLike":{"aws:SourceArn":"*:333333333333:*"}}"#), alarm(), Allowed(0)),
        // ARN operators
        ("ArnEquals", allow_if(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudwatch:us-east-1:111111111111:alarm:unauthorized-api-calls"}}"#), alarm(), Allowed(0)),
        ("ArnLike", allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:us-east-1:111111111111:alarm:*"}}"#), alarm(), Allowed(0)),
        ("ArnLike, every part", allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:*:*:*"}}"#), alarm(), Allowed(0)),
        ("ArnLike, another name", allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:cloudwatch:us-east-1:111111111111:alarm:other-*"}}"#), alarm(), NotAllowed),
        ("ArnLike compares case", allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:CloudWatch:*:111111111111:alarm:*"}}"#), alarm(), NotAllowed),
        ("ArnLike, * stays in its part", allow_if(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:*:111111111111:alarm:*:x"}}"#), alarm(), NotAllowed),
        ("ArnNotLike", allow_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:cloudwatch:*:111111111111:alarm:*"}}"#), alarm(), NotAllowed),
        ("ArnNotEquals", allow_if(r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:cloudwatch:us-east-1:333333333333:alarm:x"}}"#), alarm(), Allowed(0)),
        ("ArnLike, not an ARN", allow_if(r#"{"ArnLike":{"aws:SourceArn":"*"}}"#), alarm(), Undecidable(0, "is not an ARN")),
        // Bool
        ("Bool, JSON true", allow_if(r#"{"Bool":{"aws:SecureTransport":true}}"#), alarm(), Allowed(0)),
        ("Bool, text", allow_if(r#"{"Bool":{"aws:SecureTransport":"True"}}"#), alarm(), Allowed(0)),
        ("a Deny of Bool JSON false, over TLS", deny_if(r#"{"Bool":{"aws:SecureTransport":false}}"#), alarm(), Allowed(0)),
        (
            "a Deny of Bool JSON false, without TLS",
            deny_if(r#"{"Bool":{"aws:SecureTransport":false}}"#),
            alarm().context(alarm_of("111111111111").with("aws:SecureTransport", ["false"])),
            Denied(1),
        ),
        // IfExists
        ("IfExists, present and equal", allow_if(r#"{"StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}}"#), alarm(), Allowed(0)),
        ("IfExists, present and different", allow_if(r#"{"StringEqualsIfExists":{"aws:SourceAccount":"333333333333"}}"#), alarm(), NotAllowed),
        ("IfExists, absent", allow_if(r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), Allowed(0)),
        ("ArnLikeIfExists, absent", allow_if(r#"{"ArnLikeIfExists":{"aws:PrincipalOrgID":"arn:aws:x:::y"}}"#), alarm(), Allowed(0)),
        ("a Deny of StringNotEqualsIfExists, absent", deny_if(r#"{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), Denied(1)),
        ("BoolIfExists, present", allow_if(r#"{"BoolIfExists":{"aws:SecureTransport":"false"}}"#), alarm(), NotAllowed),
        // absent keys: positive operators false, negated ones true
        ("StringEquals, absent", allow_if(r#"{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), NotAllowed),
        ("StringNotEquals, absent", allow_if(r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), Allowed(0)),
        ("StringLike, absent", allow_if(r#"{"StringLike":{"aws:PrincipalOrgID":"*"}}"#), alarm(), NotAllowed),
        ("StringNotLike, absent", allow_if(r#"{"StringNotLike":{"aws:PrincipalOrgID":"o-*"}}"#), alarm(), Allowed(0)),
        ("ArnLike, absent", allow_if(r#"{"ArnLike":{"aws:PrincipalOrgID":"arn:*:*:*:*:*"}}"#), alarm(), NotAllowed),
        ("ArnNotLike, absent", allow_if(r#"{"ArnNotLike":{"aws:PrincipalOrgID":"arn:*:*:*:*:*"}}"#), alarm(), Allowed(0)),
        ("Bool, absent", allow_if(r#"{"Bool":{"aws:PrincipalOrgID":"true"}}"#), alarm(), NotAllowed),
        ("a Deny of StringNotEquals on an absent key", deny_if(r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), Denied(1)),
        ("a Deny of StringEquals on an absent key", deny_if(r#"{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorgid"}}"#), alarm(), Allowed(0)),
        // Null
        ("Null true, absent", allow_if(r#"{"Null":{"aws:PrincipalOrgID":"true"}}"#), alarm(), Allowed(0)),
        ("Null false, absent", allow_if(r#"{"Null":{"aws:PrincipalOrgID":"false"}}"#), alarm(), NotAllowed),
        ("Null false, present", allow_if(r#"{"Null":{"aws:SourceArn":false}}"#), alarm(), Allowed(0)),
        ("Null true, present", allow_if(r#"{"Null":{"aws:SourceArn":true}}"#), alarm(), NotAllowed),
        ("Null false, present with an unknown value", allow_if(r#"{"Null":{"aws:SourceOrgPaths":"false"}}"#), alarm(), Allowed(0)),
        ("Null, not true or false", allow_if(r#"{"Null":{"aws:SourceArn":"maybe"}}"#), alarm(), Undecidable(0, "Null takes")),
        // set prefixes; aws:TagKeys is [team, env]
        ("StringEquals, multi-valued, one matches", allow_if(r#"{"StringEquals":{"aws:TagKeys":"env"}}"#), alarm(), Allowed(0)),
        ("StringNotEquals, multi-valued, one matches", allow_if(r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#), alarm(), NotAllowed),
        ("StringNotEquals, multi-valued, none matches", allow_if(r#"{"StringNotEquals":{"aws:TagKeys":"owner"}}"#), alarm(), Allowed(0)),
        ("ForAnyValue, one matches", allow_if(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","owner"]}}"#), alarm(), Allowed(0)),
        ("ForAnyValue, none matches", allow_if(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}"#), alarm(), NotAllowed),
        ("ForAllValues, all in the set", allow_if(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env","owner"]}}"#), alarm(), Allowed(0)),
        ("ForAllValues, one outside", allow_if(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}"#), alarm(), NotAllowed),
        ("ForAllValues, absent", allow_if(r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":["o-exampleorgid"]}}"#), alarm(), Allowed(0)),
        ("ForAnyValue, absent", allow_if(r#"{"ForAnyValue:StringEquals":{"aws:PrincipalOrgID":["o-exampleorgid"]}}"#), alarm(), NotAllowed),
        ("ForAnyValue:StringNotEquals, one differs", allow_if(r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"team"}}"#), alarm(), Allowed(0)),
        ("ForAllValues:StringNotEquals, none equal", allow_if(r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":"owner"}}"#), alarm(), Allowed(0)),
        ("ForAllValues:StringNotEquals, one equal", allow_if(r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":"env"}}"#), alarm(), NotAllowed),
        ("ForAllValues, a single-valued key", allow_if(r#"{"ForAllValues:StringLike":{"aws:SourceAccount":["1*"]}}"#), alarm(), Allowed(0)),
        ("ForAnyValue IfExists, absent", allow_if(r#"{"ForAnyValue:StringEqualsIfExists":{"aws:PrincipalOrgID":"x"}}"#), alarm(), Allowed(0)),
        // what orgwatch cannot judge
        ("an unknown operator", allow_if(r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#), alarm(), Undecidable(0, "condition operator NumericLessThan is not one orgwatch can judge")),
        ("IpAddress", allow_if(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#), alarm(), Undecidable(0, "IpAddress")),
        ("a misspelt operator", allow_if(r#"{"StringEqual":{"aws:SourceAccount":"111111111111"}}"#), alarm(), Undecidable(0, "StringEqual ")),
        ("operators spell case", allow_if(r#"{"stringequals":{"aws:SourceAccount":"111111111111"}}"#), alarm(), Undecidable(0, "stringequals")),
        ("Null has no IfExists", allow_if(r#"{"NullIfExists":{"aws:SourceArn":"false"}}"#), alarm(), Undecidable(0, "NullIfExists")),
        ("an unknown operator in a Deny, an Allow applies", deny_if(r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#), alarm(), Undecidable(1, "DateGreaterThan")),
        (
            "an unknown operator in a Deny, no Allow could apply",
            doc(&[allow(CW, r#""Action":"sns:Subscribe""#, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, AT_TOPIC, r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#)]),
            alarm(),
            NotAllowed,
        ),
        (
            "an unknown operator in a Deny of another action",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, r#""Action":"sns:DeleteTopic""#, AT_TOPIC, r#"{"BinaryEquals":{"k":"AA=="}}"#)]),
            alarm(),
            Allowed(0),
        ),
        (
            "an unknown operator beside a condition that fails",
            allow_if(r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"},"StringEquals":{"aws:SourceAccount":"333333333333"}}"#),
            alarm(),
            NotAllowed,
        ),
        (
            "an unknown Allow, and one that applies",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, r#"{"NumericLessThan":{"k":"1"}}"#), allow(CW, PUBLISH, AT_TOPIC, "")]),
            alarm(),
            Allowed(1),
        ),
        (
            "a Deny that applies over a Deny that cannot be judged",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, AT_TOPIC, r#"{"NumericLessThan":{"k":"1"}}"#), statement("Deny", ANYONE, PUBLISH, AT_TOPIC, "")]),
            alarm(),
            Denied(2),
        ),
        ("an unknown key", allow_if(r#"{"StringEquals":{"aws:SourceVpc":"vpc-1"}}"#), alarm(), Undecidable(0, "condition key aws:SourceVpc is not one orgwatch can judge")),
        ("an unknown key with IfExists", allow_if(r#"{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}"#), alarm(), Undecidable(0, "aws:SourceVpc")),
        ("an unknown key under Null", allow_if(r#"{"Null":{"aws:SourceVpc":"true"}}"#), alarm(), Undecidable(0, "aws:SourceVpc")),
        ("a key whose value is not known", allow_if(r#"{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"o-exampleorgid/*"}}"#), alarm(), Undecidable(0, "condition key aws:SourceOrgPaths: the account's path in the organization was not read")),
        ("a policy variable in a condition", allow_if(r#"{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}"#), alarm(), Undecidable(0, "policy variable")),
        ("a policy variable beside a value that matches", allow_if(r#"{"StringEquals":{"aws:SourceAccount":["${aws:PrincipalAccount}","111111111111"]}}"#), alarm(), Allowed(0)),
        (
            "a policy variable in Resource",
            doc(&[allow(CW, PUBLISH, r#""Resource":"arn:aws:sns:us-east-1:${aws:PrincipalAccount}:security-alerts""#, "")]),
            alarm(),
            Undecidable(0, "Resource \"arn:aws:sns:us-east-1:${aws:PrincipalAccount}:security-alerts\" holds a policy variable"),
        ),
        (
            "a policy variable in a Deny's NotResource",
            doc(&[allow(CW, PUBLISH, AT_TOPIC, ""), statement("Deny", ANYONE, PUBLISH, r#""NotResource":"arn:aws:sns:*:${aws:PrincipalAccount}:*""#, "")]),
            alarm(),
            Undecidable(1, "NotResource"),
        ),
        (
            "a policy variable in Resource beside the topic",
            doc(&[allow(CW, PUBLISH, r#""Resource":["arn:aws:sns:*:${aws:PrincipalAccount}:*","arn:aws:sns:us-east-1:222222222222:security-alerts"]"#, "")]),
            alarm(),
            Allowed(0),
        ),
        (
            "a policy variable in a statement of another action",
            doc(&[allow(CW, r#""Action":"sns:Subscribe""#, r#""Resource":"${aws:x}""#, "")]),
            alarm(),
            NotAllowed,
        ),
    ];
    for (name, policy, publisher, expected) in &cases {
        check(name, policy, publisher, expected);
    }
}

/// SNS's default access policy for a new topic.
fn default_topic_policy() -> String {
    r#"{
  "Version": "2008-10-17",
  "Id": "__default_policy_ID",
  "Statement": [
    {
      "Sid": "__default_statement_ID",
      "Effect": "Allow",
      "Principal": {
        "AWS": "*"
      },
      "Action": [
        "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes",
        "SNS:AddPermission",
        "SNS:RemovePermission",
        "SNS:DeleteTopic",
        "SNS:Subscribe",
        "SNS:ListSubscriptionsByTopic",
        "SNS:Publish"
      ],
      "Resource": "arn:aws:sns:us-east-1:222222222222:security-alerts",
      "Condition": {
        "StringEquals": {
          "AWS:SourceOwner": "222222222222"
        }
      }
    }
  ]
}"#
    .into()
}

const KEY_ROOT_ONLY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}"#;

const KEY_FOR_CLOUDWATCH: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
      "Action": "kms:*",
      "Resource": "*"
    },
    {
      "Sid": "Allow CloudWatch alarms",
      "Effect": "Allow",
      "Principal": {"Service": "cloudwatch.amazonaws.com"},
      "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
      "Resource": "*"
    }
  ]
}"#;

#[test]
fn realistic_documents() {
    let org_wide = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "OrganizationAlarms",
      "Effect": "Allow",
      "Principal": {"Service": "cloudwatch.amazonaws.com"},
      "Action": "sns:Publish",
      "Resource": "arn:aws:sns:us-east-1:222222222222:security-alerts",
      "Condition": {"StringEquals": {"aws:SourceOrgID": "o-exampleorgid"}}
    },
    {
      "Sid": "OnlyProduction",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "sns:Publish",
      "Resource": "arn:aws:sns:us-east-1:222222222222:security-alerts",
      "Condition": {"StringNotEquals": {"aws:SourceAccount": ["111111111111"]}}
    }
  ]
}"#
    .to_owned();
    let ops_only = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "OpsOnly",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:role/ops"},
    "Action": "sns:*",
    "Resource": "arn:aws:sns:us-east-1:222222222222:security-alerts"
  }]
}"#
    .to_owned();
    let principal_org = r#"{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "Organization",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": "arn:aws:sns:us-east-1:222222222222:security-alerts",
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}
  }
}"#
    .to_owned();
    let key = |action: &'static str| Publisher { service: CLOUDWATCH, action, resource: KEY, context: alarm_of("111111111111") };
    let cases: Vec<(&str, String, Publisher, Expect)> = vec![
        ("default topic policy, another account's alarm", default_topic_policy(), publish("111111111111"), NotAllowed),
        ("default topic policy, the owner's alarm", default_topic_policy(), publish("222222222222"), Allowed(0)),
        ("organization allow with a deny, another account", org_wide.clone(), publish("333333333333"), Denied(1)),
        ("organization allow with a deny, the account spared", org_wide, publish("111111111111"), Allowed(0)),
        ("a role only", ops_only, alarm(), NotAllowed),
        ("aws:PrincipalOrgID", principal_org, alarm(), NotAllowed),
        ("key policy, root only, Decrypt", KEY_ROOT_ONLY.into(), key("kms:Decrypt"), NotAllowed),
        ("key policy, root only, GenerateDataKey", KEY_ROOT_ONLY.into(), key("kms:GenerateDataKey"), NotAllowed),
        ("key policy for CloudWatch, Decrypt", KEY_FOR_CLOUDWATCH.into(), key("kms:Decrypt"), Allowed(1)),
        ("key policy for CloudWatch, GenerateDataKey", KEY_FOR_CLOUDWATCH.into(), key("kms:GenerateDataKey"), Allowed(1)),
    ];
    for (name, policy, publisher, expected) in &cases {
        check(name, policy, publisher, expected);
    }
}

#[test]
fn statements_keep_their_sid_effect_and_text() {
    let policy = Policy::parse(KEY_FOR_CLOUDWATCH).unwrap();
    assert_eq!(policy.statements().len(), 2);
    let second = policy.statement(1).unwrap();
    assert_eq!((second.index, second.sid.as_deref(), second.effect), (1, Some("Allow CloudWatch alarms"), Effect::Allow));
    assert_eq!(second.label(), "statement \"Allow CloudWatch alarms\"");
    assert_eq!(second.source["Action"][1], "kms:GenerateDataKey*");
    assert!(policy.statement(2).is_none());
    assert_eq!(policy.source_text(), KEY_FOR_CLOUDWATCH);
    let unnamed = Policy::parse(&allow_if("")).unwrap();
    assert_eq!(unnamed.statements()[0].label(), "statement #1");
    assert_eq!(unnamed.statements()[0].source["Principal"]["Service"], CLOUDWATCH);
    let single = Policy::parse(r#"{"Statement":{"Sid":"","Effect":"Deny","Principal":"*","Action":"*"}}"#).unwrap();
    assert_eq!((single.statements().len(), single.statements()[0].label()), (1, "statement #1".to_owned()));
}

#[test]
fn names_key_ignores_case_operator_and_prefix() {
    let policy = Policy::parse(&doc(&[
        allow(CW, PUBLISH, AT_TOPIC, r#"{"ForAnyValue:StringLike":{"aws:SourceOrgPaths":"o-x/*"}}"#),
        allow(CW, PUBLISH, AT_TOPIC, r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"1"}}"#),
    ]))
    .unwrap();
    assert!(policy.names_key("aws:SourceOrgPaths"));
    assert!(policy.names_key("AWS:SOURCEORGPATHS"));
    assert!(policy.names_key("aws:MultiFactorAuthAge"));
    assert!(!policy.names_key("aws:SourceArn"));
    assert!(!Policy::parse(&default_topic_policy()).unwrap().names_key("aws:SourceAccount"));
    assert!(Policy::parse(&default_topic_policy()).unwrap().names_key("aws:sourceowner"));
}

/// (policy, line, column, part of the message)
#[test]
fn parse_errors_say_where_and_why() {
    let stmt = |body: &str| format!("{{\n  \"Statement\": [\n    {{\"Sid\": \"First\", \"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"*\"}},\n    {body}\n  ]\n}}");
    let cases: Vec<(String, usize, usize, &str)> = vec![
        // JSON syntax, as serde_json finds it
        ("{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}".into(), 3, 24, "trailing comma"),
        ("{\"Statement\": [}".into(), 1, 16, "expected value"),
        ("".into(), 1, 1, "EOF"),
        ("{\"Statement\": []} x".into(), 1, 19, "trailing characters"),
        ("{\"Statement\": \"é\u{1F600}".into(), 1, 17, "EOF while parsing a string"),
        // the document
        ("[]".into(), 1, 1, "expected a policy document as a JSON object"),
        ("{\"Version\": \"2012-10-17\"}".into(), 1, 25, "the policy has no Statement"),
        ("{\"Version\": \"2020-01-01\", \"Statement\": []}".into(), 1, 24, "Version must be \"2012-10-17\" or \"2008-10-17\", not \"2020-01-01\""),
        ("{\"Statement\": [], \"Statements\": []}".into(), 1, 30, "unknown element \"Statements\""),
        ("{\"Statement\": [], \"Statement\": []}".into(), 1, 29, "the policy has Statement twice"),
        ("{\"Statement\": \"Allow\"}".into(), 1, 21, "invalid type: string \"Allow\", expected Statement to be a statement object or an array of them"),
        // a statement
        (stmt("3"), 4, 5, "expected statement #2 to be a JSON object"),
        (stmt(r#"{"Sid": "Second", "Effect": "Perhaps", "Principal": "*", "Action": "*"}"#), 4, 41, "statement \"Second\": Effect must be \"Allow\" or \"Deny\", not \"Perhaps\""),
        (stmt(r#"{"Effect": "allow", "Principal": "*", "Action": "*", "Sid": "Later"}"#), 4, 22, "statement \"Later\": Effect must be"),
        (stmt(r#"{"Principal": "*", "Action": "*"}"#), 4, 37, "statement #2: no Effect"),
        (stmt(r#"{"Effect": "Allow", "Action": "*"}"#), 4, 38, "statement #2: no Principal or NotPrincipal; a resource policy must name one"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "*"}"#), 4, 77, "statement #2: both Principal and NotPrincipal"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "NotAction": "s3:*"}"#), 4, 77, "statement #2: both Action and NotAction"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*"}"#), 4, 41, "statement #2: no Action or NotAction"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "NotResource": "x"}"#), 4, 93, "statement #2: both Resource and NotResource"),
        (stmt(r#"{"Effect": "Allow", "Effect": "Deny", "Principal": "*", "Action": "*"}"#), 4, 32, "statement #2: Effect appears twice"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Conditions": {}}"#), 4, 69, "statement #2: unknown element \"Conditions\""),
        (stmt(r#"{"Sid": 7, "Effect": "Allow", "Principal": "*", "Action": "*"}"#), 4, 13, "statement #2: Sid must be a string, not 7"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": 7}"#), 4, 54, "statement #2: Action must be a string or an array of strings, not 7"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": ["sns:Publish", 7]}"#), 4, 71, "statement #2: Action must be a string or an array of strings"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": []}"#), 4, 55, "statement #2: Action is an empty array"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": {"a": 1}}"#), 4, 78, "statement #2: Resource must be a string or an array of strings, not an object"),
        (stmt(r#"{"Effect": "Allow", "Principal": "arn:aws:iam::1:root", "Action": "*"}"#), 4, 58, "statement #2: Principal must be \"*\" or an object of principal types"),
        (stmt(r#"{"Effect": "Allow", "Principal": 1, "Action": "*"}"#), 4, 38, "expected the Principal of statement #2 to be \"*\" or an object of principal types"),
        (stmt(r#"{"Effect": "Allow", "Principal": {"Users": "x"}, "Action": "*"}"#), 4, 51, "statement #2: Principal has an unknown principal type \"Users\""),
        (stmt(r#"{"Effect": "Allow", "Principal": {"AWS": 5}, "Action": "*"}"#), 4, 47, "statement #2: Principal AWS must be a string or an array of strings, not 5"),
        (stmt(r#"{"Effect": "Deny", "NotPrincipal": {"Service": "a", "Service": "b"}, "Action": "*"}"#), 4, 65, "statement #2: NotPrincipal has Service twice"),
        // a condition
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": "x"}"#), 4, 73, "expected the Condition of statement #2 to be an object of condition operators"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"StringEquals": ["a"]}}"#), 4, 87, "expected condition operator StringEquals of statement #2 to be an object of condition keys"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {"aws:SecureTransport": null}}}"#), 4, 108, "statement #2: Condition Bool key aws:SecureTransport must have a string, a boolean, a number or an array of them, not null"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {"k": [true, {}]}}}"#), 4, 96, "statement #2: Condition Bool key k must have"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {"k": []}}}"#), 4, 88, "statement #2: Condition Bool key k has an empty array of values"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {"k": "1", "k": "2"}}}"#), 4, 93, "statement #2: Condition Bool key k appears twice"),
        (stmt(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": {"Bool": {}, "Bool": {}}}"#), 4, 89, "statement #2: Condition has operator Bool twice"),
    ];
    let mut wrong = Vec::new();
    for (text, line, column, part) in &cases {
        match Policy::parse(text) {
            Ok(_) => wrong.push(format!("{text}: parsed, expected an error")),
            Err(e) => {
                if !e.message.contains(part) || (e.line, e.column) != (*line, *column) {
                    let at = text.split('\n').nth(e.line - 1).map(|l| l.chars().skip(e.column - 1).take(12).collect::<String>());
                    wrong.push(format!("{text:?}\n   expected {line}:{column} {part:?}\n   got {}:{} {:?} pointing at {at:?}", e.line, e.column, e.message));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn parse_error_display_reads_as_a_sentence() {
    let err = Policy::parse(r#"{"Statement": {"Effect": "Allow", "Principal": "*"}}"#).unwrap_err();
    assert_eq!(err.to_string(), "statement #1: no Action or NotAction at line 1 column 51");
}

#[test]
fn overlong_policies_are_refused() {
    let padding = |n: usize| format!(r#"{{"Id":"{}","Statement":[]}}"#, "x".repeat(n));
    let fits = padding(MAX_POLICY_LEN - r#"{"Id":"","Statement":[]}"#.len());
    assert_eq!(fits.len(), MAX_POLICY_LEN);
    assert!(Policy::parse(&fits).is_ok());
    let long = padding(MAX_POLICY_LEN);
    let err = Policy::parse(&long).unwrap_err();
    assert!(err.message.contains(&format!("at most {MAX_POLICY_LEN}")), "{err}");
    assert_eq!((err.line, err.column), (1, MAX_POLICY_LEN + 1));
    let multibyte = format!("{{\n\"Id\":\"{}\"}}", "é".repeat(MAX_POLICY_LEN));
    let err = Policy::parse(&multibyte).unwrap_err();
    assert_eq!((err.line, err.column), (2, (MAX_POLICY_LEN - 2 - 6) / 2 + 6 + 1));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// Whether an error's line and column fall inside `text` (or just past the end of a line).
    fn inside(text: &str, e: &ParseError) -> bool {
        let lines: Vec<&str> = text.split('\n').collect();
        e.line >= 1 && e.line <= lines.len() && e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("\"".to_owned()),
            Just("\n".to_owned()),
            Just(" ".to_owned()),
            Just("\"Statement\":".to_owned()),
            Just("\"Version\":\"2012-10-17\"".to_owned()),
            Just("\"Effect\":\"Allow\"".to_owned()),
            Just("\"Effect\":\"Deny\"".to_owned()),
            Just("\"Principal\":\"*\"".to_owned()),
            Just("\"Principal\":{\"Service\":\"cloudwatch.amazonaws.com\"}".to_owned()),
            Just("\"NotPrincipal\":{\"AWS\":[\"*\"]}".to_owned()),
            Just("\"Action\":\"sns:*\"".to_owned()),
            Just("\"NotAction\":[\"s3:*\"]".to_owned()),
            Just("\"Resource\":\"*\"".to_owned()),
            Just("\"Condition\":".to_owned()),
            Just("{\"StringEquals\":{\"aws:SourceAccount\":\"111111111111\"}}".to_owned()),
            Just("\"ForAllValues:StringLike\":".to_owned()),
            Just("\"Null\":".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("12".to_owned()),
            Just("\"${aws:x}\"".to_owned()),
            Just("\"é\"".to_owned()),
            "\"[a-zA-Z0-9:*?]{0,6}\"",
            any::<char>().prop_map(String::from),
        ]
    }

    fn strings_of(options: &'static [&'static str]) -> impl Strategy<Value = Value> {
        prop_oneof![
            proptest::sample::select(options).prop_map(|s| json!(s)),
            proptest::sample::subsequence(options, 1..=options.len().min(3)).prop_map(|v| json!(v)),
        ]
    }

    const ACTIONS: &[&str] = &["sns:Publish", "SNS:publish", "sns:*", "*", "sns:Sub*", "kms:Decrypt", "kms:GenerateDataKey*", "s3:?ut*"];
    const RESOURCES: &[&str] = &[TOPIC, "*", "arn:aws:sns:*:222222222222:*", "arn:aws:sns:us-east-1:333333333333:x", "arn:aws:kms:*", "${aws:x}"];
    const OPERATORS: &[&str] = &[
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "ArnEquals",
        "ArnNotEquals",
        "ArnLike",
        "ArnNotLike",
        "Bool",
        "Null",
        "StringEqualsIfExists",
        "ArnNotLikeIfExists",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringLike",
        "ForAnyValue:StringNotLikeIfExists",
        "ForAllValues:ArnNotEquals",
        "NumericLessThan",
        "Strange",
    ];
    const KEYS: &[&str] = &["aws:SourceArn", "aws:SourceAccount", "AWS:SourceOwner", "aws:SourceOrgID", "aws:PrincipalOrgID", "aws:TagKeys", "aws:SecureTransport", "aws:Unheard"];
    const VALUES: &[&str] = &[
        "111111111111",
        "222222222222",
        "o-exampleorgid",
        "arn:aws:cloudwatch:us-east-1:111111111111:alarm:unauthorized-api-calls",
        "arn:aws:cloudwatch:*:111111111111:alarm:*",
        "*",
        "1*",
        "true",
        "false",
        "team",
        "${aws:PrincipalAccount}",
    ];

    fn condition() -> impl Strategy<Value = Value> {
        let key = (proptest::sample::select(KEYS), strings_of(VALUES));
        let block = proptest::collection::vec(key, 1..3)
            .prop_map(|keys| Value::Object(keys.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        let blocks = proptest::collection::vec((proptest::sample::select(OPERATORS), block), 1..3)
            .prop_map(|blocks| Value::Object(blocks.into_iter().map(|(o, b)| (o.to_owned(), b)).collect()));
        prop_oneof![Just(json!({})), blocks]
    }

    fn principal() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("*")),
            Just(json!({"AWS": "*"})),
            Just(json!({"Service": "cloudwatch.amazonaws.com"})),
            Just(json!({"Service": ["events.amazonaws.com", "CLOUDWATCH.amazonaws.com"]})),
            Just(json!({"AWS": "arn:aws:iam::111111111111:root"})),
            Just(json!({"AWS": ["111111111111"], "Service": "sns.amazonaws.com"})),
        ]
    }

    fn statement(effect: Option<&'static str>) -> impl Strategy<Value = Value> {
        let effect = match effect {
            Some(e) => Just(e).boxed(),
            None => proptest::sample::select(&["Allow", "Deny"][..]).boxed(),
        };
        (effect, proptest::bool::weighted(0.2), principal(), proptest::bool::weighted(0.2), strings_of(ACTIONS), 0..3u8, strings_of(RESOURCES), condition(), "[A-Za-z]{0,4}")
            .prop_map(|(effect, not_principal, principal, not_action, actions, resource, resources, condition, sid)| {
                let mut s = serde_json::Map::new();
                if !sid.is_empty() {
                    s.insert("Sid".into(), json!(sid));
                }
                s.insert("Effect".into(), json!(effect));
                s.insert(if not_principal { "NotPrincipal" } else { "Principal" }.into(), principal);
                s.insert(if not_action { "NotAction" } else { "Action" }.into(), actions);
                match resource {
                    0 => {}
                    1 => {
                        s.insert("Resource".into(), resources);
                    }
                    _ => {
                        s.insert("NotResource".into(), resources);
                    }
                }
                if condition.as_object().is_some_and(|c| !c.is_empty()) {
                    s.insert("Condition".into(), condition);
                }
                Value::Object(s)
            })
    }

    fn context_value() -> impl Strategy<Value = Option<ContextValue>> {
        prop_oneof![
            Just(None),
            Just(Some(ContextValue::Absent)),
            Just(Some(ContextValue::Unknown("not read".into()))),
            proptest::sample::subsequence(VALUES, 0..3).prop_map(|v| Some(ContextValue::Present(v.into_iter().map(String::from).collect()))),
        ]
    }

    fn context() -> impl Strategy<Value = Context> {
        proptest::collection::vec(context_value(), KEYS.len()).prop_map(|values| {
            let mut context = Context::new();
            for (key, value) in KEYS.iter().zip(values) {
                context = match value {
                    None => context,
                    Some(ContextValue::Absent) => context.absent(key),
                    Some(ContextValue::Unknown(why)) => context.unknown(key, why),
                    Some(ContextValue::Present(values)) => context.with(key, values),
                };
            }
            context
        })
    }

    /// Mostly CloudWatch's publish to the topic.
    fn request() -> impl Strategy<Value = (&'static str, &'static str, &'static str)> {
        prop_oneof![
            2 => Just((CLOUDWATCH, "sns:Publish", TOPIC)),
            1 => (
                proptest::sample::select(&[CLOUDWATCH, "events.amazonaws.com"][..]),
                proptest::sample::select(&["sns:Publish", "kms:Decrypt", "kms:GenerateDataKey", "s3:PutObject"][..]),
                proptest::sample::select(&[TOPIC, KEY, "arn:aws:sns:us-east-1:333333333333:x"][..]),
            ),
        ]
    }

    fn document(statements: &[Value]) -> String {
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// Any text parses or fails with an error inside it.
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            if let Err(e) = Policy::parse(&text) {
                prop_assert!(inside(&text, &e), "{e} for {text:?}");
            }
        }

        /// Fragments of policies, in any order: parsed and decided, or refused with an error
        /// inside the input.
        #[test]
        fn fragment_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..60)) {
            let text: String = parts.concat();
            match Policy::parse(&text) {
                Ok(policy) => {
                    let context = alarm_of("111111111111");
                    let _ = policy.decide(&AccessRequest { service: CLOUDWATCH, action: "sns:Publish", resource: TOPIC, context: &context });
                }
                Err(e) => prop_assert!(inside(&text, &e), "{e} for {text:?}"),
            }
        }

        /// Generated policies parse; deciding never panics; an Allowed names an Allow that
        /// applies alone, a Denied a Deny, an Undecidable a statement that exists.
        #[test]
        fn decisions_name_statements_that_decide(
            statements in proptest::collection::vec(statement(None), 1..5),
            context in context(),
            (service, action, resource) in request(),
        ) {
            let policy = Policy::parse(&document(&statements)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let request = AccessRequest { service, action, resource, context: &context };
            match policy.decide(&request) {
                Decision::Allowed { by } => {
                    prop_assert_eq!(policy.statement(by).map(|s| s.effect), Some(Effect::Allow));
                    let alone = Policy::parse(&document(&statements[by..=by])).unwrap();
                    prop_assert_eq!(alone.decide(&request), Decision::Allowed { by: 0 });
                }
                Decision::Denied { by } => prop_assert_eq!(policy.statement(by).map(|s| s.effect), Some(Effect::Deny)),
                Decision::Undecidable { statement, why } => {
                    prop_assert!(policy.statement(statement).is_some());
                    prop_assert!(!why.is_empty());
                }
                Decision::NotAllowed => {}
            }
        }

        /// Adding a Deny never turns a decision into Allowed; adding one that applies always
        /// yields Denied, by a Deny.
        #[test]
        fn a_deny_never_allows(
            statements in proptest::collection::vec(statement(None), 0..5),
            deny in prop_oneof![statement(Some("Deny")), Just(json!({"Effect": "Deny", "Principal": "*", "Action": "*"}))],
            at in any::<proptest::sample::Index>(),
            context in context(),
            (service, action, resource) in request(),
        ) {
            let request = AccessRequest { service, action, resource, context: &context };
            let before = Policy::parse(&document(&statements)).unwrap().decide(&request);
            let mut with_deny = statements.clone();
            with_deny.insert(at.index(statements.len() + 1), deny.clone());
            let policy = Policy::parse(&document(&with_deny)).unwrap();
            let after = policy.decide(&request);
            if !matches!(before, Decision::Allowed { .. }) {
                prop_assert!(!matches!(after, Decision::Allowed { .. }), "{before:?} became {after:?}");
            }
            let applies = Policy::parse(&document(&[deny])).unwrap().decide(&request) == Decision::Denied { by: 0 };
            if applies {
                match after {
                    Decision::Denied { by } => prop_assert_eq!(policy.statement(by).map(|s| s.effect), Some(Effect::Deny)),
                    other => prop_assert!(false, "an applying Deny left {other:?}"),
                }
            }
        }
    }
}
