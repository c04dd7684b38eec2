//! The CIS AWS Foundations monitoring controls, as data.
//!
//! Every control has the same chain (trail → log group → metric filter → alarm → topic →
//! subscriber); what differs is which events the metric filter must catch. That is written as
//! two small corpora of realistic CloudTrail records rather than as pattern text:
//! `must_match` (a detecting filter matches every one) and `benign` (a well-aimed filter
//! matches few of them). The published patterns of every control must detect it — the tests
//! hold us to that.

use crate::pattern::LogEvent;
use serde_json::{Value, json};
use std::sync::LazyLock;

/// One monitoring control.
#[derive(Debug)]
pub struct Control {
    /// Stable kebab-case id, used in config, the database and the CLI.
    pub id: &'static str,
    pub title: &'static str,
    pub references: References,
    pub published_patterns: Vec<PublishedPattern>,
    /// Events a detecting filter must match, every one.
    pub must_match: Vec<Sample>,
    /// Events a well-aimed filter should not match.
    pub benign: Vec<Sample>,
}

/// Where the control is numbered in the benchmark's versions and in Security Hub: the ids users
/// look the control up by. The control keeps its position across versions (3.n in v1.2 is 4.n
/// in v1.4–v5.0 and 5.n in v6.0–v7.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct References {
    /// CIS AWS Foundations v1.2 (section 3); `None` where the control came later.
    pub cis_v1_2: Option<&'static str>,
    /// CIS v1.4 through v5.0 (section 4).
    pub cis_v1_4_to_v5_0: &'static str,
    /// CIS v6.0 and v7.0 (section 5).
    pub cis_v6_0_to_v7_0: &'static str,
    /// AWS Security Hub control id (`CloudWatch.n`); `None` where Security Hub has none.
    pub security_hub: Option<&'static str>,
}

/// The CIS benchmark's name, as Security Hub spells it in `RelatedRequirements`.
pub const CIS_BENCHMARK: &str = "CIS AWS Foundations Benchmark";

/// The benchmark versions a requirement is named in, by numbering: v1.2's section 3, v1.4–v5.0's
/// section 4, v6.0–v7.0's section 5. The versions Security Hub offers as standards (v1.2.0,
/// v1.4.0, v3.0.0, v5.0.0) and the ends of each range are named, so the ids match what users
/// filter on.
const VERSIONS_V1_2: &[&str] = &["v1.2.0"];
const VERSIONS_V1_4_TO_V5_0: &[&str] = &["v1.4.0", "v3.0.0", "v5.0.0"];
const VERSIONS_V6_0_TO_V7_0: &[&str] = &["v6.0.0", "v7.0.0"];

impl References {
    /// `(versions, id)` pairs as people say them: `("CIS v1.2", "3.1")`, `("CIS v1.4–v5.0",
    /// "4.1")`, `("CIS v6.0–v7.0", "5.1")`, `("Security Hub", "CloudWatch.2")`.
    pub fn labelled(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::with_capacity(4);
        if let Some(id) = self.cis_v1_2 {
            out.push(("CIS v1.2", id));
        }
        out.push(("CIS v1.4–v5.0", self.cis_v1_4_to_v5_0));
        out.push(("CIS v6.0–v7.0", self.cis_v6_0_to_v7_0));
        if let Some(id) = self.security_hub {
            out.push(("Security Hub", id));
        }
        out
    }

    /// One line: `CIS v1.2 3.1, CIS v1.4–v5.0 4.1, CIS v6.0–v7.0 5.1, Security Hub CloudWatch.2`.
    pub fn summary(&self) -> String {
        self.labelled().iter().map(|(what, id)| format!("{what} {id}")).collect::<Vec<_>>().join(", ")
    }

    /// The CIS requirement ids, one per benchmark version, as Security Hub names them:
    /// `CIS AWS Foundations Benchmark v1.2.0/3.1`, `… v1.4.0/4.1`, …, `… v7.0.0/5.1`.
    pub fn cis_requirements(&self) -> Vec<String> {
        let numbered = [(VERSIONS_V1_2, self.cis_v1_2), (VERSIONS_V1_4_TO_V5_0, Some(self.cis_v1_4_to_v5_0)), (VERSIONS_V6_0_TO_V7_0, Some(self.cis_v6_0_to_v7_0))];
        numbered
            .iter()
            .filter_map(|(versions, id)| id.map(|id| (versions, id)))
            .flat_map(|(versions, id)| versions.iter().map(move |v| format!("{CIS_BENCHMARK} {v}/{id}")))
            .collect()
    }

    /// The benchmark versions the control is part of: `CIS AWS Foundations Benchmark v1.2.0`, ….
    pub fn cis_standards(&self) -> Vec<String> {
        let mut versions: Vec<&str> = Vec::new();
        if self.cis_v1_2.is_some() {
            versions.extend(VERSIONS_V1_2);
        }
        versions.extend(VERSIONS_V1_4_TO_V5_0);
        versions.extend(VERSIONS_V6_0_TO_V7_0);
        versions.iter().map(|v| format!("{CIS_BENCHMARK} {v}")).collect()
    }
}

#[derive(Clone, Debug)]
pub struct PublishedPattern {
    /// Who published it, e.g. "CIS v1.2".
    pub source: &'static str,
    pub pattern: String,
}

/// A CloudTrail record with a short description, ready to be matched (its text rendered once).
#[derive(Clone, Debug)]
pub struct Sample {
    pub description: &'static str,
    pub event: LogEvent,
}

/// Every control of the family, in benchmark order.
pub fn all() -> &'static [Control] {
    &CONTROLS
}

/// The control with this id.
pub fn find(id: &str) -> Option<&'static Control> {
    CONTROLS.iter().find(|c| c.id == id)
}

/// The metric name orgwatch's own set-ups give a control's filter and alarm: the id in
/// CamelCase (`unauthorized-api-calls` → `UnauthorizedApiCalls`).
pub fn metric_name(control_id: &str) -> String {
    control_id
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// The id of CIS 3.1, the default control.
pub const UNAUTHORIZED_API_CALLS: &str = "unauthorized-api-calls";

static CONTROLS: LazyLock<Vec<Control>> = LazyLock::new(build);

/// A CloudTrail management event with the fields real records carry.
fn record(source: &str, name: &str, principal: Principal, region: &str, extra: Value) -> Value {
    let mut event = json!({
        "eventVersion": "1.09",
        "userIdentity": principal.identity(),
        "eventTime": "2026-11-02T10:15:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.24",
        "userAgent": "aws-cli/2.17.0 Python/3.11.8 Linux/6.1 exe/x86_64",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "5c6f9b1e-3a47-4f7e-9d7c-2f9a1a3b8e11",
        "eventID": "a3d1f2c4-6b8e-4c1d-9f0a-7e2b5c8d9a10",
        "readOnly": name.starts_with("Describe") || name.starts_with("Get") || name.starts_with("List"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    });
    if let (Some(target), Value::Object(extra)) = (event.as_object_mut(), extra) {
        target.extend(extra);
    }
    event
}

#[derive(Clone, Copy)]
enum Principal {
    IamUser,
    AssumedRole,
    Root,
    FederatedUser,
}

impl Principal {
    fn identity(self) -> Value {
        match self {
            Principal::IamUser => json!({
                "type": "IAMUser", "principalId": "AIDAEXAMPLEUSER00001",
                "arn": "arn:aws:iam::111122223333:user/deploy-bot", "accountId": "111122223333",
                "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": "deploy-bot"
            }),
            Principal::AssumedRole => json!({
                "type": "AssumedRole", "principalId": "AROAEXAMPLEROLE00001:ci-session",
                "arn": "arn:aws:sts::111122223333:assumed-role/ci-runner/ci-session",
                "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEKEY000001",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "ci-runner",
                    "arn": "arn:aws:iam::111122223333:role/ci-runner", "accountId": "111122223333"},
                    "attributes": {"creationDate": "2026-11-02T10:00:00Z", "mfaAuthenticated": "false"}}
            }),
            Principal::Root => json!({
                "type": "Root", "principalId": "111122223333",
                "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333",
                "accessKeyId": "ASIAEXAMPLEROOT00001"
            }),
            Principal::FederatedUser => json!({
                "type": "FederatedUser", "principalId": "111122223333:analyst",
                "arn": "arn:aws:sts::111122223333:federated-user/analyst", "accountId": "111122223333"
            }),
        }
    }
}

fn sample(description: &'static str, event: Value) -> Sample {
    Sample { description, event: LogEvent::from_json(event) }
}

fn denied(code: &str, message: &str) -> Value {
    json!({"errorCode": code, "errorMessage": message})
}

/// Successful, ordinary calls that no monitoring filter of this family aims at.
fn common_benign() -> Vec<Sample> {
    vec![
        sample("successful ec2:DescribeInstances", record("ec2.amazonaws.com", "DescribeInstances", Principal::AssumedRole, "us-east-1", json!({}))),
        sample("successful s3:ListBuckets", record("s3.amazonaws.com", "ListBuckets", Principal::IamUser, "eu-west-1", json!({}))),
        sample("ThrottlingException on cloudwatch:GetMetricData", record("monitoring.amazonaws.com", "GetMetricData", Principal::AssumedRole, "us-east-1",
            denied("ThrottlingException", "Rate exceeded"))),
        sample("successful sts:GetCallerIdentity", record("sts.amazonaws.com", "GetCallerIdentity", Principal::FederatedUser, "ap-southeast-2", json!({}))),
    ]
}

/// Benign samples for a control that watches named API calls: the common ones plus a
/// near miss from the same service.
fn benign_with(near_miss: Sample) -> Vec<Sample> {
    let mut samples = common_benign();
    samples.push(near_miss);
    samples
}

/// `{ ($.eventName = A) || ($.eventName = B) … }`
fn names_pattern(names: &[&str]) -> String {
    let clauses: Vec<String> = names.iter().map(|n| format!("($.eventName = {n})")).collect();
    format!("{{ {} }}", clauses.join(" || "))
}

/// `{ ($.eventSource = S) && (($.eventName = A) || …) }`
fn source_names_pattern(source: &str, names: &[&str]) -> String {
    let clauses: Vec<String> = names.iter().map(|n| format!("($.eventName = {n})")).collect();
    format!("{{ ($.eventSource = {source}) && ({}) }}", clauses.join(" || "))
}

fn name_samples(source: &str, names: &[&'static str]) -> Vec<Sample> {
    let principals = [Principal::IamUser, Principal::AssumedRole, Principal::FederatedUser];
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    names
        .iter()
        .enumerate()
        .map(|(i, name)| sample(name, record(source, name, principals[i % 3], regions[i % 3], json!({}))))
        .collect()
}

/// A control that watches a list of API calls of one service.
#[expect(clippy::too_many_arguments, reason = "one call per control of the table reads as the benchmark lists them")]
fn call_list_control(
    id: &'static str,
    title: &'static str,
    references: References,
    source: &str,
    names: &[&'static str],
    pattern_includes_source: bool,
    extra_patterns: Vec<PublishedPattern>,
    near_miss: (&'static str, &str),
) -> Control {
    let pattern = if pattern_includes_source { source_names_pattern(source, names) } else { names_pattern(names) };
    let mut published_patterns = vec![PublishedPattern { source: "CIS v1.2–v5.0", pattern }];
    published_patterns.extend(extra_patterns);
    Control {
        id,
        title,
        references,
        published_patterns,
        must_match: name_samples(source, names),
        benign: benign_with(sample(near_miss.0, record(source, near_miss.1, Principal::AssumedRole, "us-east-1", json!({})))),
    }
}

fn refs(v1_2: Option<&'static str>, v1_4_to_v5_0: &'static str, v6_0_to_v7_0: &'static str, hub: Option<&'static str>) -> References {
    References { cis_v1_2: v1_2, cis_v1_4_to_v5_0: v1_4_to_v5_0, cis_v6_0_to_v7_0: v6_0_to_v7_0, security_hub: hub }
}

fn build() -> Vec<Control> {
    let mut controls = Vec::new();

    controls.push(Control {
        id: UNAUTHORIZED_API_CALLS,
        title: "Unauthorized API calls are monitored",
        references: refs(Some("3.1"), "4.1", "5.1", Some("CloudWatch.2")),
        published_patterns: vec![
            PublishedPattern { source: "CIS v1.2", pattern: r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#.into() },
            PublishedPattern { source: "CIS v1.4", pattern: r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") || ($.sourceIPAddress!="delivery.logs.amazonaws.com") || ($.eventName!="HeadBucket") }"#.into() },
            PublishedPattern { source: "CIS v3.0", pattern: r#"{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#.into() },
        ],
        must_match: vec![
            sample("s3:GetObject AccessDenied by an IAM user in us-east-1", record("s3.amazonaws.com", "GetObject", Principal::IamUser, "us-east-1",
                json!({"errorCode": "AccessDenied", "errorMessage": "Access Denied", "requestParameters": {"bucketName": "payroll-exports", "key": "2026/10.csv"}, "readOnly": true}))),
            sample("kms:Decrypt AccessDeniedException by an assumed role in eu-west-1", record("kms.amazonaws.com", "Decrypt", Principal::AssumedRole, "eu-west-1",
                denied("AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/ci-runner/ci-session is not authorized to perform: kms:Decrypt"))),
            sample("ec2:RunInstances Client.UnauthorizedOperation in ap-southeast-2", record("ec2.amazonaws.com", "RunInstances", Principal::IamUser, "ap-southeast-2",
                denied("Client.UnauthorizedOperation", "You are not authorized to perform this operation."))),
            sample("ec2:DescribeRegions UnauthorizedOperation by a federated user", record("ec2.amazonaws.com", "DescribeRegions", Principal::FederatedUser, "us-west-2",
                denied("UnauthorizedOperation", "You are not authorized to perform this operation."))),
            sample("iam:CreateAccessKey AccessDenied by an assumed role", record("iam.amazonaws.com", "CreateAccessKey", Principal::AssumedRole, "us-east-1",
                denied("AccessDenied", "User is not authorized to perform: iam:CreateAccessKey"))),
            sample("dynamodb:Scan AccessDeniedException from a leaked key", record("dynamodb.amazonaws.com", "Scan", Principal::IamUser, "eu-central-1",
                json!({"errorCode": "AccessDeniedException", "errorMessage": "not authorized", "sourceIPAddress": "198.51.100.77"}))),
        ],
        benign: {
            let mut b = common_benign();
            b.push(sample("s3:GetObject NoSuchKey", record("s3.amazonaws.com", "GetObject", Principal::AssumedRole, "us-east-1",
                denied("NoSuchKey", "The specified key does not exist."))));
            b.push(sample("ValidationException whose message mentions access denied", record("ssm.amazonaws.com", "PutParameter", Principal::AssumedRole, "us-east-1",
                denied("ValidationException", "AccessDenied is not a valid parameter name"))));
            b
        },
    });

    controls.push(Control {
        id: "console-signin-without-mfa",
        title: "Management console sign-in without MFA is monitored",
        references: refs(Some("3.2"), "4.2", "5.2", Some("CloudWatch.3")),
        published_patterns: vec![
            PublishedPattern { source: "CIS v1.2", pattern: r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }"#.into() },
            PublishedPattern { source: "CIS v1.4 variant", pattern: r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#.into() },
        ],
        must_match: vec![
            sample("IAM user console sign-in without MFA", record("signin.amazonaws.com", "ConsoleLogin", Principal::IamUser, "us-east-1",
                json!({"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"},
                       "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"}}))),
            sample("IAM user console sign-in without MFA from another address", record("signin.amazonaws.com", "ConsoleLogin", Principal::IamUser, "eu-west-1",
                json!({"eventType": "AwsConsoleSignIn", "sourceIPAddress": "198.51.100.9", "responseElements": {"ConsoleLogin": "Success"},
                       "additionalEventData": {"MobileVersion": "Yes", "MFAUsed": "No"}}))),
        ],
        benign: benign_with(sample("console sign-in with MFA", record("signin.amazonaws.com", "ConsoleLogin", Principal::IamUser, "us-east-1",
            json!({"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}})))),
    });

    controls.push(Control {
        id: "root-account-usage",
        title: "Usage of the root account is monitored",
        references: refs(Some("3.3"), "4.3", "5.3", Some("CloudWatch.1")),
        published_patterns: vec![PublishedPattern {
            source: "CIS v1.2–v5.0",
            pattern: r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#.into(),
        }],
        must_match: vec![
            sample("root console sign-in", record("signin.amazonaws.com", "ConsoleLogin", Principal::Root, "us-east-1",
                json!({"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}}))),
            sample("root creates an access key", record("iam.amazonaws.com", "CreateAccessKey", Principal::Root, "us-east-1", json!({}))),
            sample("root lists buckets", record("s3.amazonaws.com", "ListBuckets", Principal::Root, "eu-west-1", json!({}))),
        ],
        benign: {
            let mut b = common_benign();
            let mut on_behalf = record("s3.amazonaws.com", "PutObject", Principal::Root, "us-east-1", json!({}));
            on_behalf["userIdentity"]["invokedBy"] = json!("cloudtrail.amazonaws.com");
            b.push(sample("a service acting on the root's behalf", on_behalf));
            b.push(sample("an AWS service event", record("kms.amazonaws.com", "RotateKey", Principal::Root, "us-east-1", json!({"eventType": "AwsServiceEvent"}))));
            b
        },
    });

    controls.push(call_list_control(
        "iam-policy-changes",
        "IAM policy changes are monitored",
        refs(Some("3.4"), "4.4", "5.4", Some("CloudWatch.4")),
        "iam.amazonaws.com",
        &["DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy",
          "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"],
        false,
        vec![],
        ("iam:GetPolicy", "GetPolicy"),
    ));

    controls.push(call_list_control(
        "cloudtrail-configuration-changes",
        "CloudTrail configuration changes are monitored",
        refs(Some("3.5"), "4.5", "5.5", Some("CloudWatch.5")),
        "cloudtrail.amazonaws.com",
        &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"],
        false,
        vec![],
        ("cloudtrail:DescribeTrails", "DescribeTrails"),
    ));

    controls.push(Control {
        id: "console-authentication-failures",
        title: "Management console authentication failures are monitored",
        references: refs(Some("3.6"), "4.6", "5.6", Some("CloudWatch.6")),
        published_patterns: vec![PublishedPattern {
            source: "CIS v1.2–v5.0",
            pattern: r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#.into(),
        }],
        must_match: vec![
            sample("failed console sign-in of an IAM user", record("signin.amazonaws.com", "ConsoleLogin", Principal::IamUser, "us-east-1",
                json!({"eventType": "AwsConsoleSignIn", "errorMessage": "Failed authentication", "responseElements": {"ConsoleLogin": "Failure"},
                       "additionalEventData": {"MFAUsed": "No"}}))),
            sample("failed console sign-in of the root user", record("signin.amazonaws.com", "ConsoleLogin", Principal::Root, "us-east-1",
                json!({"eventType": "AwsConsoleSignIn", "errorMessage": "Failed authentication", "sourceIPAddress": "198.51.100.200",
                       "responseElements": {"ConsoleLogin": "Failure"}}))),
        ],
        benign: benign_with(sample("successful console sign-in", record("signin.amazonaws.com", "ConsoleLogin", Principal::IamUser, "us-east-1",
            json!({"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}})))),
    });

    controls.push(call_list_control(
        "kms-key-disable-or-deletion",
        "Disabling or scheduled deletion of customer-managed KMS keys is monitored",
        refs(Some("3.7"), "4.7", "5.7", Some("CloudWatch.7")),
        "kms.amazonaws.com",
        &["DisableKey", "ScheduleKeyDeletion"],
        true,
        vec![],
        ("kms:EnableKey", "EnableKey"),
    ));

    controls.push(call_list_control(
        "s3-bucket-policy-changes",
        "S3 bucket policy changes are monitored",
        refs(Some("3.8"), "4.8", "5.8", Some("CloudWatch.8")),
        "s3.amazonaws.com",
        &["PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors",
          "DeleteBucketLifecycle", "DeleteBucketReplication"],
        true,
        vec![],
        ("s3:GetBucketPolicy", "GetBucketPolicy"),
    ));

    controls.push(call_list_control(
        "aws-config-changes",
        "AWS Config configuration changes are monitored",
        refs(Some("3.9"), "4.9", "5.9", Some("CloudWatch.9")),
        "config.amazonaws.com",
        &["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"],
        true,
        vec![],
        ("config:DescribeConfigurationRecorders", "DescribeConfigurationRecorders"),
    ));

    let sg = ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup"];
    let mut sg_v5: Vec<&str> = sg.to_vec();
    sg_v5.push("ModifySecurityGroupRules");
    controls.push(call_list_control(
        "security-group-changes",
        "Security group changes are monitored",
        refs(Some("3.10"), "4.10", "5.10", Some("CloudWatch.10")),
        "ec2.amazonaws.com",
        &sg,
        false,
        vec![PublishedPattern { source: "CIS v5.0", pattern: names_pattern(&sg_v5) }],
        ("ec2:DescribeSecurityGroups", "DescribeSecurityGroups"),
    ));

    controls.push(call_list_control(
        "network-acl-changes",
        "Network ACL changes are monitored",
        refs(Some("3.11"), "4.11", "5.11", Some("CloudWatch.11")),
        "ec2.amazonaws.com",
        &["CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"],
        false,
        vec![],
        ("ec2:DescribeNetworkAcls", "DescribeNetworkAcls"),
    ));

    controls.push(call_list_control(
        "network-gateway-changes",
        "Network gateway changes are monitored",
        refs(Some("3.12"), "4.12", "5.12", Some("CloudWatch.12")),
        "ec2.amazonaws.com",
        &["CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway", "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway"],
        false,
        vec![],
        ("ec2:DescribeInternetGateways", "DescribeInternetGateways"),
    ));

    controls.push(call_list_control(
        "route-table-changes",
        "Route table changes are monitored",
        refs(Some("3.13"), "4.13", "5.13", Some("CloudWatch.13")),
        "ec2.amazonaws.com",
        &["CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation", "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable"],
        false,
        vec![],
        ("ec2:DescribeRouteTables", "DescribeRouteTables"),
    ));

    controls.push(call_list_control(
        "vpc-changes",
        "VPC changes are monitored",
        refs(Some("3.14"), "4.14", "5.14", Some("CloudWatch.14")),
        "ec2.amazonaws.com",
        &["CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection", "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
          "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc", "DisableVpcClassicLink", "EnableVpcClassicLink"],
        false,
        vec![],
        ("ec2:DescribeVpcs", "DescribeVpcs"),
    ));

    controls.push(call_list_control(
        "organizations-changes",
        "AWS Organizations changes are monitored",
        refs(None, "4.15", "5.15", None),
        "organizations.amazonaws.com",
        &["AcceptHandshake", "AttachPolicy", "CreateAccount", "CreateOrganizationalUnit", "CreatePolicy", "DeclineHandshake", "DeleteOrganization",
          "DeleteOrganizationalUnit", "DeletePolicy", "DetachPolicy", "DisablePolicyType", "EnablePolicyType", "InviteAccountToOrganization",
          "LeaveOrganization", "MoveAccount", "RemoveAccountFromOrganization", "UpdatePolicy", "UpdateOrganizationalUnit"],
        true,
        vec![],
        ("organizations:ListAccounts", "ListAccounts"),
    ));

    controls
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbering of shared/reference/cis-monitoring-controls.md: (v1.2, v1.4–v5.0,
    /// Security Hub) by control, in benchmark order.
    const PUBLISHED: [(&str, Option<&str>, &str, Option<&str>); 15] = [
        ("unauthorized-api-calls", Some("3.1"), "4.1", Some("CloudWatch.2")),
        ("console-signin-without-mfa", Some("3.2"), "4.2", Some("CloudWatch.3")),
        ("root-account-usage", Some("3.3"), "4.3", Some("CloudWatch.1")),
        ("iam-policy-changes", Some("3.4"), "4.4", Some("CloudWatch.4")),
        ("cloudtrail-configuration-changes", Some("3.5"), "4.5", Some("CloudWatch.5")),
        ("console-authentication-failures", Some("3.6"), "4.6", Some("CloudWatch.6")),
        ("kms-key-disable-or-deletion", Some("3.7"), "4.7", Some("CloudWatch.7")),
        ("s3-bucket-policy-changes", Some("3.8"), "4.8", Some("CloudWatch.8")),
        ("aws-config-changes", Some("3.9"), "4.9", Some("CloudWatch.9")),
        ("security-group-changes", Some("3.10"), "4.10", Some("CloudWatch.10")),
        ("network-acl-changes", Some("3.11"), "4.11", Some("CloudWatch.11")),
        ("network-gateway-changes", Some("3.12"), "4.12", Some("CloudWatch.12")),
        ("route-table-changes", Some("3.13"), "4.13", Some("CloudWatch.13")),
        ("vpc-changes", Some("3.14"), "4.14", Some("CloudWatch.14")),
        ("organizations-changes", None, "4.15", None),
    ];

    #[test]
    fn references_follow_the_published_numbering_in_every_version() {
        assert_eq!(all().len(), PUBLISHED.len());
        for (i, (control, (id, v1_2, v1_4, hub))) in all().iter().zip(PUBLISHED).enumerate() {
            let r = control.references;
            assert_eq!((control.id, r.cis_v1_2, r.cis_v1_4_to_v5_0, r.security_hub), (id, v1_2, v1_4, hub));
            // v6.0 moved the section from 4 to 5 and kept the order.
            assert_eq!(r.cis_v6_0_to_v7_0, format!("5.{}", i + 1), "{id}");
            assert_eq!(r.cis_v1_4_to_v5_0, format!("4.{}", i + 1), "{id}");
        }
    }

    #[test]
    fn references_read_as_users_look_them_up() {
        let r = find(UNAUTHORIZED_API_CALLS).unwrap().references;
        assert_eq!(r.summary(), "CIS v1.2 3.1, CIS v1.4–v5.0 4.1, CIS v6.0–v7.0 5.1, Security Hub CloudWatch.2");
        assert_eq!(
            r.cis_requirements(),
            [
                "CIS AWS Foundations Benchmark v1.2.0/3.1",
                "CIS AWS Foundations Benchmark v1.4.0/4.1",
                "CIS AWS Foundations Benchmark v3.0.0/4.1",
                "CIS AWS Foundations Benchmark v5.0.0/4.1",
                "CIS AWS Foundations Benchmark v6.0.0/5.1",
                "CIS AWS Foundations Benchmark v7.0.0/5.1",
            ]
        );
        assert_eq!(r.cis_standards().len(), 6);
        // Organizations changes came with v1.4 and has no Security Hub control.
        let r = find("organizations-changes").unwrap().references;
        assert_eq!(r.summary(), "CIS v1.4–v5.0 4.15, CIS v6.0–v7.0 5.15");
        assert!(r.cis_requirements().iter().all(|req| !req.contains("v1.2.0")));
        assert!(!r.cis_standards().iter().any(|s| s.ends_with("v1.2.0")));
    }

    #[test]
    fn metric_names_are_the_control_id_in_camel_case() {
        assert_eq!(super::metric_name("unauthorized-api-calls"), "UnauthorizedApiCalls");
        assert_eq!(super::metric_name("root-account-usage"), "RootAccountUsage");
    }
}
