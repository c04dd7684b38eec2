use super::*;
use crate::memory::MemoryOrg;
use orgwatch_core::UnobservedKind;
use orgwatch_core::facts::Key;
use orgwatch_core::controls::UNAUTHORIZED_API_CALLS;
use std::time::Duration;

const MANAGEMENT: &str = "100000000000";
const MEMBER: &str = "300000000000";
const OTHER: &str = "300000000001";
const REGION: &str = "us-east-1";

fn organization() -> MemoryOrg {
    let mut org = MemoryOrg::new(MANAGEMENT);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, &[UNAUTHORIZED_API_CALLS], None, false);
    org.add_account(MEMBER, "member").deploy_chain(MEMBER, REGION, &[UNAUTHORIZED_API_CALLS], None, false);
    org.add_account(OTHER, "other").deploy_chain(OTHER, REGION, &[UNAUTHORIZED_API_CALLS], None, false);
    org
}

fn rule(account_id: Option<&str>, operation: Option<&'static str>, fault: Fault, times: Option<usize>) -> FaultRule {
    FaultRule { account_id: account_id.map(str::to_owned), operation, fault, times }
}

fn trail(account: &str) -> String {
    format!("arn:aws:cloudtrail:{REGION}:{account}:trail/main")
}

#[tokio::test]
async fn without_a_matching_rule_calls_pass_through_with_the_account_in_the_session() {
    let reads = Faulty::new(organization(), vec![rule(Some(OTHER), None, Fault::AccessDenied, None)]);
    let session = reads.assume_role(MEMBER).await.unwrap();
    assert_eq!(session, (MEMBER.to_owned(), MEMBER.to_owned()));
    assert_eq!(reads.describe_trails(&session, REGION).await.unwrap().len(), 1);
    assert!(reads.get_trail_status(&session, REGION, &trail(MEMBER)).await.unwrap().is_logging);
    assert_eq!(reads.list_accounts().await.unwrap().len(), 3);
    assert_eq!(reads.fired(), vec![0]);
}

#[tokio::test]
async fn access_denied_on_a_chain_read_is_an_access_denied_fact_of_that_operation() {
    let reads = Faulty::new(organization(), vec![rule(Some(MEMBER), Some("sns:GetTopicAttributes"), Fault::AccessDenied, None)]);
    let (member, other) = (reads.assume_role(MEMBER).await.unwrap(), reads.assume_role(OTHER).await.unwrap());
    let topic = |account: &str| format!("arn:aws:sns:{REGION}:{account}:security-alerts");

    let refused = reads.get_topic_attributes(&member, REGION, &topic(MEMBER)).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "sns:GetTopicAttributes"));
    assert!(refused.message.starts_with("AccessDenied: "), "{}", refused.message);
    // Other operations and other accounts are untouched.
    assert!(reads.list_subscriptions_by_topic(&member, REGION, &topic(MEMBER)).await.is_ok());
    assert!(reads.get_topic_attributes(&other, REGION, &topic(OTHER)).await.is_ok());
    assert_eq!(reads.fired(), vec![1]);
    // The call was still made.
    assert_eq!(reads.inner().call_count(MEMBER, "sns:GetTopicAttributes"), 1);
}

#[tokio::test]
async fn api_errors_become_api_error_facts() {
    let reads = Faulty::new(organization(), vec![rule(None, Some("logs:DescribeMetricFilters"), Fault::ApiError, None)]);
    let member = reads.assume_role(MEMBER).await.unwrap();
    let group = orgwatch_core::facts::LogGroupRef { account_id: MEMBER.into(), region: REGION.into(), name: crate::memory::LOG_GROUP.into() };
    let failed = reads.describe_metric_filters(&member, &group).await.unwrap_err();
    assert_eq!((failed.kind, failed.operation.as_str()), (UnobservedKind::ApiError, "logs:DescribeMetricFilters"));
}

#[tokio::test]
async fn faults_on_assume_role_refuse_the_role_of_the_target_account() {
    let rules = vec![rule(Some(MEMBER), Some("sts:AssumeRole"), Fault::AccessDenied, None), rule(Some(OTHER), Some("sts:AssumeRole"), Fault::ApiError, None)];
    let reads = Faulty::new(organization(), rules);
    let refused = reads.assume_role(MEMBER).await.unwrap_err();
    assert!(refused.contains(MEMBER) && refused.contains("AccessDenied"), "{refused}");
    let failed = reads.assume_role(OTHER).await.unwrap_err();
    assert!(failed.contains(OTHER) && failed.contains("InternalFailure"), "{failed}");
    assert!(reads.assume_role(MANAGEMENT).await.is_ok());
    assert_eq!(reads.fired(), vec![1, 1]);
}

#[tokio::test]
async fn organization_calls_are_matched_only_by_rules_without_an_account() {
    let rules = vec![
        rule(Some(MANAGEMENT), Some("organizations:ListAccounts"), Fault::ApiError, None),
        rule(None, Some("organizations:ListAccounts"), Fault::AccessDenied, None),
        rule(None, Some("organizations:DescribeOrganization"), Fault::ApiError, None),
    ];
    let reads = Faulty::new(organization(), rules);
    let error = reads.list_accounts().await.unwrap_err();
    assert!(matches!(&error, AwsError::Service { operation: "organizations:ListAccounts", code: Some(code), .. } if code == "AccessDeniedException"), "{error:?}");
    let error = reads.describe_organization().await.unwrap_err();
    assert!(matches!(&error, AwsError::Service { operation: "organizations:DescribeOrganization", .. }), "{error:?}");
    assert_eq!(reads.fired(), vec![0, 1, 1]);
}

#[tokio::test]
async fn a_rule_with_times_fires_that_many_times_then_lets_calls_through() {
    let rules = vec![rule(Some(MEMBER), Some("cloudtrail:DescribeTrails"), Fault::ApiError, Some(2)), rule(Some(MEMBER), None, Fault::AccessDenied, Some(1))];
    let reads = Faulty::new(organization(), rules);
    let member = reads.assume_role(MEMBER).await;
    // The second rule matches AssumeRole too and fires first there.
    assert!(member.is_err());
    let member = reads.assume_role(MEMBER).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(reads.describe_trails(&member, REGION).await.map(|t| t.len()).map_err(|e| e.kind));
    }
    assert_eq!(answers, vec![Err(UnobservedKind::ApiError), Err(UnobservedKind::ApiError), Ok(1)]);
    assert_eq!(reads.fired(), vec![2, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_call_never_completes_and_the_others_do() {
    let org = organization().with_latency(Duration::from_secs(1));
    let reads = Faulty::new(org, vec![rule(Some(MEMBER), Some("cloudtrail:GetTrailStatus"), Fault::Hang, None), rule(None, Some("organizations:ListAccounts"), Fault::Hang, None)]);
    let (member, other) = (reads.assume_role(MEMBER).await.unwrap(), reads.assume_role(OTHER).await.unwrap());

    let hung = tokio::time::timeout(Duration::from_secs(3600), reads.get_trail_status(&member, REGION, &trail(MEMBER))).await;
    assert!(hung.is_err(), "still waiting after an hour");
    assert!(tokio::time::timeout(Duration::from_secs(3600), reads.list_accounts()).await.is_err());

    let answered = tokio::time::timeout(Duration::from_secs(2), reads.get_trail_status(&other, REGION, &trail(OTHER))).await;
    assert!(answered.expect("answered within the latency").unwrap().is_logging);
    assert!(reads.get_event_selectors(&member, REGION, &trail(MEMBER)).await.is_ok());
    assert_eq!(reads.fired(), vec![1, 1]);
}

#[tokio::test]
async fn each_new_read_can_be_faulted_and_org_paths_are_matched_by_the_account_read() {
    let operations = ["kms:DescribeKey", "kms:GetKeyPolicy", "cloudwatch:DescribeAlarmHistory", "organizations:ListParents"];
    let alarm = "unauthorized-api-calls-alarm";
    for fault in [Fault::AccessDenied, Fault::ApiError] {
        let mut org = organization();
        let key = org.account_mut(MEMBER).add_key(MEMBER, REGION, "1234abcd-12ab-34cd-56ef-1234567890ab", &["alias/alerts"]);
        let rules = operations.iter().map(|op| rule(Some(MEMBER), Some(op), fault, None)).collect();
        let reads = Faulty::new(org, rules);
        let (member, other) = (reads.assume_role(MEMBER).await.unwrap(), reads.assume_role(OTHER).await.unwrap());
        let expected = if fault == Fault::AccessDenied { UnobservedKind::AccessDenied } else { UnobservedKind::ApiError };
        let failed = [
            reads.describe_key(&member, REGION, "alias/alerts").await.map(|_| ()).unwrap_err(),
            reads.get_key_policy(&member, REGION, &key).await.map(|_| ()).unwrap_err(),
            reads.describe_alarm_history(&member, REGION, Some(alarm), false).await.map(|_| ()).unwrap_err(),
            reads.org_path(MEMBER).await.map(|_| ()).unwrap_err(),
        ];
        for (failure, operation) in failed.iter().zip(operations) {
            assert_eq!((failure.kind, failure.operation.as_str()), (expected, operation));
        }
        assert_eq!(reads.fired(), vec![1; 4]);
        // Another account's reads, and its path, go through.
        assert_eq!(reads.describe_key(&other, REGION, "alias/alerts").await, Ok(Key::NotFound));
        assert!(reads.describe_alarm_history(&other, REGION, Some(alarm), false).await.unwrap().items.is_empty());
        assert_eq!(reads.org_path(OTHER).await.as_deref(), Ok("o-a1b2c3d4e5/r-a1b2/"));
        // The calls were still made, the path with orgwatch's own identity.
        assert_eq!(reads.inner().call_count(MEMBER, "kms:GetKeyPolicy"), 1);
        assert_eq!(reads.inner().call_count(MANAGEMENT, "organizations:ListParents"), 2);
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_org_path_never_answers() {
    let reads = Faulty::new(organization(), vec![rule(Some(MEMBER), Some("organizations:ListParents"), Fault::Hang, None)]);
    assert!(tokio::time::timeout(Duration::from_secs(3600), reads.org_path(MEMBER)).await.is_err());
    assert!(reads.org_path(OTHER).await.is_ok());
}
