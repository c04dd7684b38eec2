use super::*;
use orgwatch_core::UnobservedKind;
use orgwatch_core::controls::UNAUTHORIZED_API_CALLS;

const MANAGEMENT: &str = "100000000000";
const SECURITY: &str = "200000000000";
const MEMBER: &str = "300000000000";
const OTHER: &str = "300000000001";
const REGION: &str = "us-east-1";

fn trail_arn(account: &str) -> String {
    format!("arn:aws:cloudtrail:{REGION}:{account}:trail/main")
}

fn group(account: &str) -> LogGroupRef {
    LogGroupRef { account_id: account.to_owned(), region: REGION.to_owned(), name: LOG_GROUP.to_owned() }
}

/// The management account with an organization trail and its chain; a security account with a
/// central topic; a member without anything of its own.
fn landing_zone() -> (MemoryOrg, String) {
    let mut org = MemoryOrg::new(MANAGEMENT);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, &[UNAUTHORIZED_API_CALLS], None, true);
    let topic = org.add_account(SECURITY, "security").add_topic(SECURITY, REGION, "security-alerts", true);
    org.add_account(MEMBER, "member");
    (org, topic)
}

async fn session(org: &MemoryOrg, account: &str) -> String {
    org.assume_role(account).await.expect("assumable")
}

#[tokio::test]
async fn deploy_chain_builds_a_compliant_chain_with_the_published_pattern() {
    let mut org = MemoryOrg::new(MANAGEMENT);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, &[UNAUTHORIZED_API_CALLS, "root-account-usage"], None, false);
    let account = org.account(MANAGEMENT).unwrap();
    assert_eq!(account.name, "management");

    let trail = &account.trails[0];
    assert_eq!((trail.arn.as_str(), trail.multi_region, trail.organization_trail), (trail_arn(MANAGEMENT).as_str(), true, false));
    assert_eq!(trail.log_group_arn.as_deref(), Some("arn:aws:logs:us-east-1:100000000000:log-group:CloudTrail/Default:*"));
    assert!(account.trail_status[&trail.arn].is_logging);

    let filters = &account.metric_filters[&(REGION.to_owned(), LOG_GROUP.to_owned())];
    assert_eq!(filters.len(), 2);
    let control = controls::find(UNAUTHORIZED_API_CALLS).unwrap();
    assert_eq!(filters[0].pattern, control.published_patterns[0].pattern);
    assert_eq!(filters[0].transformations[0].metric_name, "UnauthorizedApiCalls");
    assert_eq!((filters[0].transformations[0].namespace.as_str(), filters[0].transformations[0].value.as_str()), (NAMESPACE, "1"));

    let own_topic = format!("arn:aws:sns:{REGION}:{MANAGEMENT}:security-alerts");
    assert_eq!(account.alarms.len(), 2);
    let (region, alarm) = &account.alarms[0];
    assert_eq!(region, REGION);
    assert_eq!(alarm.alarm_actions, vec![own_topic.clone()]);
    assert_eq!((alarm.statistic.as_deref(), alarm.comparison_operator.as_deref(), alarm.threshold), (Some("Sum"), Some("GreaterThanOrEqualToThreshold"), Some(1.0)));
    let topic = &account.topics[&own_topic];
    assert_eq!(topic.subscriptions.len(), 1);
    assert!(topic.subscriptions[0].is_confirmed() && topic.subscriptions[0].subscription_arn.starts_with(&format!("{own_topic}:")));

    // Notifying another account's topic creates no topic of its own.
    let (mut org, central) = landing_zone();
    org.account_mut(MEMBER).deploy_chain(MEMBER, REGION, &[UNAUTHORIZED_API_CALLS], Some(&central), false);
    let member = org.account(MEMBER).unwrap();
    assert!(member.topics.is_empty());
    assert_eq!(member.alarms[0].1.alarm_actions, vec![central]);
    let pending = org.account_mut(SECURITY).add_topic(SECURITY, REGION, "pending", false);
    assert!(!org.account(SECURITY).unwrap().topics[&pending].subscriptions[0].is_confirmed());
}

#[tokio::test]
async fn the_organization_is_listed_sorted_by_id_with_its_management_account() {
    let mut org = MemoryOrg::new(MANAGEMENT);
    org.add_account(OTHER, "other");
    org.add_account("000000000009", "first").state = "SUSPENDED".to_owned();
    let organization = org.describe_organization().await.unwrap();
    assert_eq!((organization.id.as_deref(), organization.management_account_id.as_deref()), (Some(ORGANIZATION_ID), Some(MANAGEMENT)));
    let accounts = org.list_accounts().await.unwrap();
    let ids: Vec<_> = accounts.iter().map(|a| (a.id.as_str(), a.name.as_str(), a.state.as_str())).collect();
    assert_eq!(ids, vec![("000000000009", "first", "SUSPENDED"), (MANAGEMENT, "management", "ACTIVE"), (OTHER, "other", "ACTIVE")]);
    assert_eq!(org.call_count(MANAGEMENT, "organizations:ListAccounts"), 1);
    assert_eq!(org.call_count(MANAGEMENT, "organizations:DescribeOrganization"), 1);
}

#[tokio::test]
async fn assume_role_fails_for_an_unknown_or_unassumable_account_naming_the_role() {
    let (mut org, _) = landing_zone();
    org.account_mut(SECURITY).assumable = false;
    assert_eq!(org.assume_role(MEMBER).await.as_deref(), Ok(MEMBER));
    for account in [SECURITY, "999999999999"] {
        let error = org.assume_role(account).await.unwrap_err();
        assert!(error.starts_with(&format!("arn:aws:iam::{account}:role/OrgwatchAudit: AccessDenied: ")), "{error}");
    }
    let calls = org.calls();
    assert_eq!(calls.iter().map(|c| (c.account_id.as_str(), c.operation)).collect::<Vec<_>>(), vec![
        (MEMBER, "sts:AssumeRole"),
        (SECURITY, "sts:AssumeRole"),
        ("999999999999", "sts:AssumeRole")
    ]);
    assert_eq!(calls[0].target, "arn:aws:iam::300000000000:role/OrgwatchAudit");
}

#[tokio::test]
async fn an_organization_trail_is_shown_to_members_but_read_only_by_its_owner() {
    let (mut org, _) = landing_zone();
    // A trail of the management account that is not an organization trail stays its own.
    org.account_mut(MANAGEMENT).trails.push(Trail {
        arn: format!("arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/local"),
        name: "local".into(),
        home_region: REGION.into(),
        multi_region: false,
        organization_trail: false,
        log_group_arn: None,
    });
    let (member, management) = (session(&org, MEMBER).await, session(&org, MANAGEMENT).await);

    let seen = org.describe_trails(&member, REGION).await.unwrap();
    assert_eq!(seen.iter().map(|t| t.arn.as_str()).collect::<Vec<_>>(), vec![trail_arn(MANAGEMENT)]);
    assert!(seen[0].organization_trail);
    assert_eq!(org.describe_trails(&management, REGION).await.unwrap().len(), 2, "the owner sees it once, with its local trail");
    assert_eq!(org.describe_trails(&management, "eu-west-1").await.unwrap().len(), 1, "a single-region trail only in its region");

    let refused = org.get_trail_status(&member, REGION, &trail_arn(MANAGEMENT)).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::ApiError, "cloudtrail:GetTrailStatus"));
    assert!(refused.message.starts_with("TrailNotFoundException: "), "{}", refused.message);
    assert!(org.get_event_selectors(&member, REGION, &trail_arn(MANAGEMENT)).await.is_err());

    assert!(org.get_trail_status(&management, REGION, &trail_arn(MANAGEMENT)).await.unwrap().is_logging);
    assert_eq!(org.get_event_selectors(&management, REGION, &trail_arn(MANAGEMENT)).await.unwrap().basic.len(), 1);

    // Calls are recorded with the identity that made them.
    assert_eq!(org.call_count(MEMBER, "cloudtrail:GetTrailStatus"), 1);
    assert_eq!(org.call_count(MANAGEMENT, "cloudtrail:GetTrailStatus"), 1);
    let status_calls: Vec<_> = org.calls().into_iter().filter(|c| c.operation == "cloudtrail:GetTrailStatus").collect();
    assert!(status_calls.iter().all(|c| c.target == trail_arn(MANAGEMENT)));
}

#[tokio::test]
async fn metric_filters_are_looked_up_in_the_sessions_own_account() {
    let (mut org, central) = landing_zone();
    org.account_mut(MEMBER).deploy_chain(MEMBER, REGION, &["root-account-usage"], Some(&central), false);
    let (member, management, security) = (session(&org, MEMBER).await, session(&org, MANAGEMENT).await, session(&org, SECURITY).await);

    let names = |filters: Vec<MetricFilter>| filters.into_iter().map(|f| f.name).collect::<Vec<_>>();
    assert_eq!(names(org.describe_metric_filters(&management, &group(MANAGEMENT)).await.unwrap()), vec![UNAUTHORIZED_API_CALLS]);
    // The management account's group, read with the member's role: the member's group of that name.
    assert_eq!(names(org.describe_metric_filters(&member, &group(MANAGEMENT)).await.unwrap()), vec!["root-account-usage"]);
    // An account without such a log group says so.
    let missing = org.describe_metric_filters(&security, &group(MANAGEMENT)).await.unwrap_err();
    assert_eq!(missing.kind, UnobservedKind::ApiError);
    assert!(missing.message.starts_with("ResourceNotFoundException"), "{}", missing.message);
}

#[tokio::test(start_paused = true)]
async fn alarms_are_the_sessions_own_in_that_region_metric_and_composite_a_hundred_a_page() {
    let latency = Duration::from_millis(100);
    let (mut org, _) = landing_zone();
    let account = org.account_mut(MANAGEMENT);
    for i in 0..150 {
        let name = format!("filler-{i:03}");
        account.alarms.push((REGION.into(), Alarm { arn: format!("arn:aws:cloudwatch:{REGION}:{MANAGEMENT}:alarm:{name}"), name, ..Alarm::default() }));
    }
    let rule = "ALARM(\"unauthorized-api-calls-alarm\") OR ALARM(\"filler-000\")";
    let pager = CompositeAlarm { name: "pager".into(), arn: format!("arn:aws:cloudwatch:{REGION}:{MANAGEMENT}:alarm:pager"), rule: rule.into(), actions_enabled: true, ..CompositeAlarm::default() };
    account.composite_alarms.push((REGION.into(), pager.clone()));
    let org = org.with_latency(latency);
    let (member, management) = (session(&org, MEMBER).await, session(&org, MANAGEMENT).await);
    let start = Instant::now();
    let alarms = org.describe_alarms(&management, REGION).await.unwrap();
    assert_eq!(start.elapsed(), latency * 2, "152 alarms: two pages, one call each");
    assert_eq!(org.call_count(MANAGEMENT, "cloudwatch:DescribeAlarms"), 2);
    assert_eq!(alarms.metric.len(), 151);
    assert!(alarms.metric.windows(2).all(|w| w[0].name < w[1].name), "by name");
    assert!(alarms.metric.iter().any(|a| a.name == "unauthorized-api-calls-alarm"));
    assert_eq!(alarms.composite, vec![pager]);
    // Another region's, and another account's, are not the session's.
    assert_eq!(org.describe_alarms(&management, "eu-west-1").await.unwrap(), Alarms::default());
    assert_eq!(org.describe_alarms(&member, REGION).await.unwrap(), Alarms::default());
}

#[tokio::test]
async fn a_topic_is_refused_to_any_account_but_its_owner() {
    let (mut org, central) = landing_zone();
    org.account_mut(SECURITY).topics.get_mut(&central).unwrap().kms_master_key_id = Some("alias/aws/sns".into());
    let (member, security) = (session(&org, MEMBER).await, session(&org, SECURITY).await);

    let refused = org.get_topic_attributes(&member, REGION, &central).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "sns:GetTopicAttributes"));
    assert!(refused.message.starts_with("AuthorizationError: "), "{}", refused.message);
    let refused = org.list_subscriptions_by_topic(&member, REGION, &central).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "sns:ListSubscriptionsByTopic"));

    let policy = Some(default_topic_policy(&central, SECURITY));
    assert_eq!(org.get_topic_attributes(&security, REGION, &central).await, Ok(Topic::Found { kms_master_key_id: Some("alias/aws/sns".into()), policy }));
    let subscriptions = org.list_subscriptions_by_topic(&security, REGION, &central).await.unwrap();
    assert!(subscriptions.len() == 1 && subscriptions[0].is_confirmed());

    let gone = format!("arn:aws:sns:{REGION}:{SECURITY}:gone");
    assert_eq!(org.get_topic_attributes(&security, REGION, &gone).await, Ok(Topic::NotFound));
    let missing = org.list_subscriptions_by_topic(&security, REGION, &gone).await.unwrap_err();
    assert_eq!(missing.kind, UnobservedKind::ApiError);
    assert!(missing.message.starts_with("NotFound"), "{}", missing.message);
}

#[tokio::test]
async fn a_session_of_an_account_outside_the_organization_is_refused() {
    let (org, _) = landing_zone();
    let refused = org.describe_trails(&"999999999999".to_owned(), REGION).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "cloudtrail:DescribeTrails"));
}

#[tokio::test(start_paused = true)]
async fn every_call_takes_the_latency_under_the_paused_clock() {
    let latency = Duration::from_millis(250);
    let (org, _) = landing_zone();
    let org = org.with_latency(latency);
    let start = Instant::now();
    org.describe_organization().await.unwrap();
    assert_eq!(start.elapsed(), latency);
    let member = session(&org, MEMBER).await;
    org.describe_trails(&member, REGION).await.unwrap();
    assert_eq!(start.elapsed(), latency * 3);
    // Independent reads go out together.
    let (a, b) = tokio::join!(org.list_accounts(), org.describe_trails(&member, REGION));
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(start.elapsed(), latency * 4);

    let starts: Vec<_> = org.calls().iter().map(|c| c.started - start).collect();
    assert_eq!(starts, vec![Duration::ZERO, latency, latency * 2, latency * 3, latency * 3]);
}

#[tokio::test(start_paused = true)]
async fn max_accounts_in_flight_counts_distinct_accounts_with_a_call_in_flight() {
    let (org, _) = landing_zone();
    let org = org.with_latency(Duration::from_secs(1));
    let (management, member) = (session(&org, MANAGEMENT).await, session(&org, MEMBER).await);
    assert_eq!(org.max_accounts_in_flight(), 1, "one after the other");

    // Two reads of one account and one of another at once: two accounts.
    let (a, b, c) = tokio::join!(org.describe_trails(&management, REGION), org.describe_trails(&management, REGION), org.describe_trails(&member, REGION));
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(org.max_accounts_in_flight(), 2);

    // Organization calls do not count; an assumed role's target does.
    let (a, b, c, d) = tokio::join!(org.list_accounts(), org.describe_organization(), org.assume_role(SECURITY), org.describe_trails(&member, REGION));
    assert!(a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok());
    assert_eq!(org.max_accounts_in_flight(), 2);

    // An abandoned call is no longer in flight.
    assert!(tokio::time::timeout(Duration::from_millis(10), org.describe_trails(&member, REGION)).await.is_err());
    let (a, b) = tokio::join!(org.assume_role(SECURITY), org.describe_trails(&management, REGION));
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(org.max_accounts_in_flight(), 2);

    let (a, b, c) = tokio::join!(org.assume_role(SECURITY), org.describe_trails(&management, REGION), org.describe_trails(&member, REGION));
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(org.max_accounts_in_flight(), 3);
}

#[tokio::test]
async fn memory_org_can_be_shared_between_tasks() {
    let (org, _) = landing_zone();
    let org = std::sync::Arc::new(org);
    let tasks: Vec<_> = [MANAGEMENT, SECURITY, MEMBER]
        .into_iter()
        .map(|account| {
            let org = org.clone();
            tokio::spawn(async move {
                let session = org.assume_role(account).await.unwrap();
                org.describe_trails(&session, REGION).await.unwrap().len()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    assert_eq!(seen, vec![1, 1, 1]);
    assert_eq!(org.calls().len(), 6);
}

#[tokio::test]
async fn a_topic_has_snss_default_policy_unless_one_is_set() {
    let (mut org, central) = landing_zone();
    let security = session(&org, SECURITY).await;
    let policy_of = |topic: Topic| match topic {
        Topic::Found { policy, .. } => policy.expect("a topic always has a policy"),
        Topic::NotFound => panic!("the topic exists"),
    };
    let default = policy_of(org.get_topic_attributes(&security, REGION, &central).await.unwrap());
    assert_eq!(default, default_topic_policy(&central, SECURITY));
    assert!(default.contains("AWS:SourceOwner") && default.contains(SECURITY), "{default}");

    org.admit_organization_alarms(&central);
    let admitted = policy_of(org.get_topic_attributes(&security, REGION, &central).await.unwrap());
    assert_eq!(admitted, organization_topic_policy(&central, ORGANIZATION_ID));
    let statements: serde_json::Value = serde_json::from_str(&admitted).unwrap();
    assert_eq!(statements["Statement"].as_array().map(Vec::len), Some(2), "the default statement stays: {admitted}");
    assert_eq!(statements["Statement"][1]["Condition"]["StringEquals"]["aws:SourceOrgID"], ORGANIZATION_ID);

    org.account_mut(SECURITY).topics.get_mut(&central).unwrap().policy = Some("{\"Statement\": []}".into());
    assert_eq!(policy_of(org.get_topic_attributes(&security, REGION, &central).await.unwrap()), "{\"Statement\": []}");
}

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn key_arn(account: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{KEY_ID}")
}

#[tokio::test]
async fn a_key_is_resolved_by_alias_name_alias_arn_key_id_or_key_arn_in_the_callers_account_and_region() {
    let (mut org, _) = landing_zone();
    let arn = org.account_mut(SECURITY).add_key(SECURITY, REGION, KEY_ID, &["alias/alerts"]);
    assert_eq!(arn, key_arn(SECURITY));
    let (security, member) = (session(&org, SECURITY).await, session(&org, MEMBER).await);

    let expected = Key::Found(KeyMetadata { arn: arn.clone(), key_id: KEY_ID.into(), manager: "CUSTOMER".into(), state: "Enabled".into() });
    for name in ["alias/alerts", &format!("arn:aws:kms:{REGION}:{SECURITY}:alias/alerts"), KEY_ID, &arn] {
        assert_eq!(org.describe_key(&security, REGION, name).await, Ok(expected.clone()), "{name}");
    }
    // Nothing of that name in that account and region.
    for name in ["alias/other", "00000000-0000-0000-0000-000000000000", &format!("arn:aws:kms:eu-west-1:{SECURITY}:key/{KEY_ID}")] {
        assert_eq!(org.describe_key(&security, REGION, name).await, Ok(Key::NotFound), "{name}");
    }
    assert_eq!(org.describe_key(&security, "eu-west-1", KEY_ID).await, Ok(Key::NotFound), "a key lives in its region");
    // A bare name resolves in the caller's own account: the member has no such key.
    assert_eq!(org.describe_key(&member, REGION, "alias/alerts").await, Ok(Key::NotFound));
    // An ARN of another account is refused: no key policy here admits another account.
    let refused = org.describe_key(&member, REGION, &arn).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "kms:DescribeKey"));
    assert!(refused.message.starts_with("AccessDeniedException: "), "{}", refused.message);
    assert_eq!(org.call_count(SECURITY, "kms:DescribeKey"), 8);
    assert_eq!(org.calls().last().unwrap().target, arn, "the call names the key as asked");
}

#[tokio::test]
async fn a_keys_manager_and_state_are_answered_as_set() {
    let (mut org, _) = landing_zone();
    let arn = org.account_mut(SECURITY).add_key(SECURITY, REGION, KEY_ID, &[]);
    let security = session(&org, SECURITY).await;
    for (manager, state) in [("CUSTOMER", "Disabled"), ("CUSTOMER", "PendingDeletion"), ("AWS", "Enabled")] {
        let key = org.account_mut(SECURITY).keys.get_mut(&arn).unwrap();
        (key.manager, key.state) = (manager.into(), state.into());
        let Ok(Key::Found(metadata)) = org.describe_key(&security, REGION, KEY_ID).await else { panic!("the key exists") };
        assert_eq!((metadata.manager.as_str(), metadata.state.as_str()), (manager, state));
        assert_eq!(metadata.is_aws_managed(), manager == "AWS");
    }
}

#[tokio::test]
async fn a_key_policy_is_read_by_key_id_or_arn_in_the_keys_own_account_only() {
    let (mut org, _) = landing_zone();
    let arn = org.account_mut(SECURITY).add_key(SECURITY, REGION, KEY_ID, &["alias/alerts"]);
    let (security, member) = (session(&org, SECURITY).await, session(&org, MEMBER).await);

    assert_eq!(org.get_key_policy(&security, REGION, KEY_ID).await, Ok(default_key_policy(SECURITY)));
    org.account_mut(SECURITY).keys.get_mut(&arn).unwrap().policy = cloudwatch_key_policy(SECURITY);
    assert_eq!(org.get_key_policy(&security, REGION, &arn).await, Ok(cloudwatch_key_policy(SECURITY)));
    assert!(cloudwatch_key_policy(SECURITY).contains("cloudwatch.amazonaws.com"));

    // From another account, by ARN: refused, as KMS refuses GetKeyPolicy across accounts.
    let refused = org.get_key_policy(&member, REGION, &arn).await.unwrap_err();
    assert_eq!((refused.kind, refused.operation.as_str()), (UnobservedKind::AccessDenied, "kms:GetKeyPolicy"));
    assert!(refused.message.starts_with("AccessDeniedException: ") && refused.message.contains(&arn), "{}", refused.message);
    // GetKeyPolicy takes no alias, and a key that is not there is not found.
    for name in ["alias/alerts", "00000000-0000-0000-0000-000000000000"] {
        let missing = org.get_key_policy(&security, REGION, name).await.unwrap_err();
        assert_eq!(missing.kind, UnobservedKind::ApiError, "{name}");
        assert!(missing.message.starts_with("NotFoundException"), "{}", missing.message);
    }
}

fn at(minute: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_790_000_000 + minute * 60, 0).unwrap()
}

#[tokio::test(start_paused = true)]
async fn alarm_history_is_answered_newest_first_a_hundred_a_page_ten_pages_at_most() {
    let latency = Duration::from_millis(100);
    let (mut org, topic) = landing_zone();
    let alarm = "unauthorized-api-calls-alarm";
    let account = org.account_mut(MANAGEMENT);
    // Written oldest first; another alarm's and another region's items are not answered.
    for minute in 0..250 {
        account.record_notification(REGION, alarm, &topic, at(minute), (minute % 2 == 1).then_some("AuthorizationError"));
    }
    account.record_notification(REGION, "other-alarm", &topic, at(1000), None);
    account.record_notification("eu-west-1", alarm, &topic, at(1000), None);
    let org = org.with_latency(latency);
    let management = session(&org, MANAGEMENT).await;

    let start = Instant::now();
    let history = org.describe_alarm_history(&management, REGION, Some(alarm), false).await.unwrap();
    assert!(history.complete);
    let items = history.items;
    assert_eq!(items.len(), 250);
    assert_eq!(start.elapsed(), latency * 3, "three pages, one call each");
    assert_eq!(org.call_count(MANAGEMENT, "cloudwatch:DescribeAlarmHistory"), 3);
    assert!(items.windows(2).all(|w| w[0].timestamp > w[1].timestamp), "newest first");
    assert_eq!(items[0].timestamp, at(249));
    let newest: serde_json::Value = serde_json::from_str(&items[0].data).unwrap();
    assert_eq!((newest["actionState"].as_str(), newest["notificationResource"].as_str(), newest["error"].as_str()), (Some("Failed"), Some(topic.as_str()), Some("AuthorizationError")));
    assert_eq!(items[0].summary, format!("Failed to execute action {topic}"));
    assert_eq!(items[1].summary, format!("Successfully executed action {topic}"));
    assert!(items.iter().all(|i| i.alarm_name == alarm));

    // No history: one call, nothing. A long one: ten pages, the newest thousand items.
    assert_eq!(org.describe_alarm_history(&management, REGION, Some("never-fired"), false).await.unwrap(), AlarmHistory { items: vec![], complete: true });
    assert_eq!(org.call_count(MANAGEMENT, "cloudwatch:DescribeAlarmHistory"), 4);
    let mut org = org;
    for minute in 250..1500 {
        org.account_mut(MANAGEMENT).record_notification(REGION, alarm, &topic, at(minute), None);
    }
    let history = org.describe_alarm_history(&management, REGION, Some(alarm), false).await.unwrap();
    assert!(!history.complete, "older items are left");
    let items = history.items;
    assert_eq!(items.len(), ALARM_HISTORY_PAGE * ALARM_HISTORY_PAGES);
    assert_eq!((items[0].timestamp, items[999].timestamp), (at(1499), at(500)));
    assert_eq!(org.call_count(MANAGEMENT, "cloudwatch:DescribeAlarmHistory"), 4 + 10);
    // Every alarm of the region: one page, the newest; the other alarm's older item is not on it.
    let every = org.describe_alarm_history(&management, REGION, None, false).await.unwrap();
    assert_eq!((every.items.len(), every.complete), (ALARM_HISTORY_PAGE, false));
    assert_eq!((every.items[0].timestamp, every.items[99].timestamp), (at(1499), at(1400)));
    assert!(every.items.iter().all(|i| i.alarm_name == alarm));
    assert_eq!(org.call_count(MANAGEMENT, "cloudwatch:DescribeAlarmHistory"), 4 + 10 + 1);
    // Only the caller's own alarms.
    let member = session(&org, MEMBER).await;
    assert!(org.describe_alarm_history(&member, REGION, Some(alarm), false).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn an_accounts_path_climbs_its_ous_to_the_root_with_orgwatchs_own_identity() {
    let (mut org, _) = landing_zone();
    org.add_ou("ou-a1b2-workload", None).add_ou("ou-a1b2-prod", Some("ou-a1b2-workload"));
    org.account_mut(MEMBER).parent = Some("ou-a1b2-prod".into());
    org.account_mut(SECURITY).parent = Some("ou-a1b2-workload".into());

    assert_eq!(org.org_path(MEMBER).await.as_deref(), Ok("o-a1b2c3d4e5/r-a1b2/ou-a1b2-workload/ou-a1b2-prod/"));
    let climbed: Vec<_> = org.calls().iter().map(|c| (c.account_id.clone(), c.operation, c.target.clone())).collect();
    assert_eq!(climbed, vec![
        (MANAGEMENT.to_owned(), "organizations:ListParents", MEMBER.to_owned()),
        (MANAGEMENT.to_owned(), "organizations:ListParents", "ou-a1b2-prod".to_owned()),
        (MANAGEMENT.to_owned(), "organizations:ListParents", "ou-a1b2-workload".to_owned()),
    ]);
    assert_eq!(org.org_path(SECURITY).await.as_deref(), Ok("o-a1b2c3d4e5/r-a1b2/ou-a1b2-workload/"));
    assert_eq!(org.org_path(MANAGEMENT).await.as_deref(), Ok("o-a1b2c3d4e5/r-a1b2/"));
    assert_eq!(org.call_count(MANAGEMENT, "organizations:ListParents"), 3 + 2 + 1);
    assert_eq!(org.call_count(MANAGEMENT, "sts:AssumeRole"), 0);

    let outside = org.org_path("999999999999").await.unwrap_err();
    assert_eq!((outside.kind, outside.operation.as_str()), (UnobservedKind::ApiError, "organizations:ListParents"));
    assert!(outside.message.starts_with("ChildNotFoundException"), "{}", outside.message);

    let org = MemoryOrg::new(MANAGEMENT).with_organization_id("o-zzzzzzzzzz");
    assert_eq!(org.org_path(MANAGEMENT).await.as_deref(), Ok("o-zzzzzzzzzz/r-a1b2/"));
}
