//! orgwatch's real scan, with the real AWS SDK, against the synthetic organization: every
//! account's finding must be the one the organization expects. One test function, because the
//! SDK's endpoint goes through the process environment (see `support`).

mod support;

use orgwatch_aws::{AUDIT_OPERATIONS, AwsReads, SdkReads};
use orgwatch_core::UnobservedKind;
use orgwatch_core::facts::{HistoryKind, Key, MetricDataQuery};
use orgwatch_synthetic::{
    ADVICE_WINDOW_DAYS, AdviceScan, Break, CompositeShape, FILLER_ALARMS, HISTORY_PAGE, History, KEY_ALIAS, KeyNaming, Kind, MathShape, NAMESPACE, OTHER_SIGNAL_ALARM, OrgSpec,
    Organization, RECOVERED_ITEMS, Server, ServerSettings, TOPIC_NAME,
};
use std::time::Duration;

#[test]
fn orgwatch_reaches_every_expected_finding_through_the_sdk() {
    support::runtime().block_on(async {
        // 200 accounts, CIS 3.1 only, then the whole family; each a fresh database, so the scan
        // gathers advice.
        for family in [false, true] {
            let org = Organization::generate(&OrgSpec { accounts: 200, family, seed: 42 });
            let server = Server::start(org, ServerSettings::default()).await.expect("server");
            let scanned = support::scan(&server, 128).await;
            let org = server.organization();
            let wrong = support::mismatches(org, &scanned.findings, AdviceScan::Gathers);
            assert!(wrong.is_empty(), "family={family}: {} wrong findings:\n{}", wrong.len(), wrong.join("\n"));
            assert_eq!(scanned.report.accounts_judged, 200);
            eprintln!(
                "200 accounts, family={family}: scan {:.2} s (with SDK setup {:.2} s), {} calls: {:?}",
                scanned.report.duration.as_secs_f64(),
                scanned.elapsed.as_secs_f64(),
                server.total_calls(),
                server.calls_by_operation()
            );

            // Only audit operations were called, and the counts follow the organization.
            let by_operation = server.calls_by_operation();
            assert!(by_operation.keys().all(|op| AUDIT_OPERATIONS.contains(&op.as_str())), "{by_operation:?}");
            assert_eq!(by_operation["organizations:ListAccounts"], 10, "20 accounts a page");
            assert_eq!(by_operation["sts:AssumeRole"], 200, "one role per account");
            assert_eq!(server.total_calls(), by_operation.values().sum::<u64>());
            let by_account = server.calls_by_account();
            assert_eq!(by_account.values().sum::<u64>(), server.total_calls());
            // Every account costs the calls of the waves the bench's bound counts for it.
            let controls = org.controls().len();
            for account in org.account_ids() {
                let calls = by_account.get(&account).copied().unwrap_or(0);
                let kind = org.kind(&account).expect("a member");
                let Some(expected) = kind.expected_calls(controls, AdviceScan::Gathers) else {
                    assert!(calls >= 3, "{account} ({}): {calls}", kind.label());
                    continue;
                };
                assert_eq!(calls, expected, "{account} ({})", kind.label());
            }
            // A key is read once per scan, the central topic's too.
            let keys = org
                .account_ids()
                .iter()
                .filter(|id| {
                    matches!(
                        org.kind(id),
                        Some(Kind::Security | Kind::Encrypted(_) | Kind::Broken(Break::KeyPolicyDeniesCloudwatchByAlias | Break::KeyPolicyDeniesCloudwatchByArn))
                    )
                })
                .count() as u64;
            assert_eq!(by_operation.get("kms:GetKeyPolicy").copied(), Some(keys), "{by_operation:?}");
            assert_eq!(by_operation.get("kms:DescribeKey").copied(), Some(keys), "{by_operation:?}");
            // orgwatch paces CloudWatch to its quota per account and region.
            let peak = server.cloudwatch_peak().expect("CloudWatch calls");
            assert!(peak.1 <= 9, "family={family}: {peak:?}");
            server.reset_counts();
            assert_eq!((server.total_calls(), server.calls_by_account().len()), (0, 0));
            server.shutdown().await;
        }

        // The semantics, seen through the SDK reads directly.
        let org = Organization::generate(&OrgSpec { accounts: 200, family: false, seed: 5 });
        let server = Server::start(org, ServerSettings::default()).await.expect("server");
        let org = server.organization();
        support::point_sdk_at(&server.endpoint());
        let config = support::config(std::path::Path::new("/unused.db"), &org.controls(), 8);
        let reads = SdkReads::new(orgwatch::scan::sdk_settings(&config)).await;
        let first = |kind: Kind| org.account_ids().into_iter().find(|id| org.kind(id) == Some(kind)).expect("an account of the kind");

        let organization = reads.describe_organization().await.expect("organization");
        assert_eq!(organization.management_account_id.as_deref(), Some(org.management_account_id()));
        assert_eq!(organization.id, Some(org.organization_id()));
        let listed = reads.list_accounts().await.expect("accounts");
        assert_eq!(listed.iter().map(|a| a.id.clone()).collect::<Vec<_>>(), org.account_ids());
        assert!(listed.iter().all(|a| a.is_active() && !a.name.is_empty()));

        let refused = reads.assume_role(&first(Kind::Refused)).await.expect_err("refused");
        assert!(refused.contains("AccessDenied"), "{refused}");
        assert!(reads.assume_role("999999999999").await.is_err(), "outside the organization");

        let security = org.security_account_id();
        let topic = format!("arn:aws:sns:us-east-1:{security}:{TOPIC_NAME}");
        let central = reads.assume_role(&first(Kind::CentralTopic)).await.expect("role");
        let denied = reads.get_topic_attributes(&central, "us-east-1", &topic).await.expect_err("another account's topic");
        assert_eq!(denied.kind, UnobservedKind::AccessDenied, "{denied:?}");
        assert!(denied.message.starts_with("AuthorizationError"), "{denied:?}");
        let own = reads.assume_role(&security).await.expect("role");
        assert!(reads.list_subscriptions_by_topic(&own, "us-east-1", &topic).await.expect("own topic").iter().all(|s| s.is_confirmed()));

        // Keys by alias and by key ARN, their policies, and alarm histories over two pages.
        let encrypted = first(Kind::Encrypted(KeyNaming::Alias));
        let session = reads.assume_role(&encrypted).await.expect("role");
        let Ok(Key::Found(metadata)) = reads.describe_key(&session, "us-east-1", KEY_ALIAS).await else { panic!("the alias names the account's key") };
        assert_eq!((metadata.manager.as_str(), metadata.state.as_str()), ("CUSTOMER", "Enabled"));
        assert!(metadata.arn.starts_with(&format!("arn:aws:kms:us-east-1:{encrypted}:key/")), "{metadata:?}");
        assert_eq!(reads.describe_key(&session, "us-east-1", &metadata.arn).await.expect("by key ARN"), Key::Found(metadata.clone()));
        let policy = reads.get_key_policy(&session, "us-east-1", &metadata.arn).await.expect("key policy");
        assert!(policy.contains("cloudwatch.amazonaws.com") && policy.contains("kms:GenerateDataKey*"), "{policy}");
        let other = reads.get_key_policy(&central, "us-east-1", &metadata.arn).await.expect_err("another account's key");
        assert_eq!(other.kind, UnobservedKind::AccessDenied, "{other:?}");
        assert_eq!(reads.describe_key(&central, "us-east-1", KEY_ALIAS).await.expect("no key of its own"), Key::NotFound);

        let recovered = first(Kind::Notified(History::Recovered));
        let session = reads.assume_role(&recovered).await.expect("role");
        let alarm = format!("{}-alarm", org.controls()[0]);
        server.reset_counts();
        let history = reads.describe_alarm_history(&session, "us-east-1", Some(&alarm), false).await.expect("history");
        let items = &history.items;
        assert_eq!((items.len(), history.complete), (RECOVERED_ITEMS, true), "every page");
        assert_eq!(server.calls_by_operation()["cloudwatch:DescribeAlarmHistory"], RECOVERED_ITEMS.div_ceil(HISTORY_PAGE) as u64);
        assert!(items[0].timestamp > items[1].timestamp && items[0].data.contains(r#""actionState":"Succeeded""#), "{:?}", items[0]);
        assert!(items[1].data.contains(r#""actionState":"Failed""#) && items[1].summary.starts_with("Failed to execute action"), "{:?}", items[1]);
        assert!(items.iter().all(|i| i.alarm_name == alarm));
        assert!(reads.describe_alarm_history(&session, "us-east-1", Some("no-such-alarm"), false).await.expect("empty").items.is_empty());
        // Every alarm's history: one page, the newest first, each item with its alarm.
        server.reset_counts();
        let every = reads.describe_alarm_history(&session, "us-east-1", None, false).await.expect("account-wide history");
        assert_eq!((every.items.len(), every.complete), (HISTORY_PAGE, false));
        assert_eq!(server.calls_by_operation()["cloudwatch:DescribeAlarmHistory"], 1);
        assert!(every.items.iter().all(|i| i.alarm_name == alarm) && every.items[0].data.contains(r#""actionState":"Succeeded""#));
        assert!(every.items.iter().all(|i| i.kind == HistoryKind::Action));
        // On the scans that gather advice: the same page with every kind of item.
        let every = reads.describe_alarm_history(&session, "us-east-1", None, true).await.expect("every kind");
        assert_eq!((every.items.len(), every.complete), (HISTORY_PAGE, false));
        let of_kind = |kind: HistoryKind| every.items.iter().filter(|i| i.kind == kind).count();
        assert_eq!((of_kind(HistoryKind::StateUpdate), of_kind(HistoryKind::Action)), (67, 33), "a change to ALARM and back around each notification");
        let data: serde_json::Value = serde_json::from_str(&every.items[0].data).expect("HistoryData is JSON");
        assert_eq!((every.items[0].summary.as_str(), data["oldState"]["stateValue"].as_str(), data["newState"]["stateValue"].as_str()), ("Alarm updated from ALARM to OK", Some("ALARM"), Some("OK")));
        // An alarm's own state changes over the advice window: every page.
        let end = chrono::Utc::now();
        let start = end - chrono::Duration::days(i64::from(ADVICE_WINDOW_DAYS));
        server.reset_counts();
        let states = reads.describe_alarm_states(&session, "us-east-1", &alarm, start, end).await.expect("state changes");
        assert_eq!((states.items.len(), states.complete), (168, true), "84 notifications in the week, each a change to ALARM and back");
        assert!(states.items.iter().all(|i| i.kind == HistoryKind::StateUpdate && i.alarm_name == alarm && i.timestamp >= start && i.timestamp <= end));
        assert_eq!(server.calls_by_operation()["cloudwatch:DescribeAlarmHistory"], 2);
        // GetMetricData: the alarm's metric per period and the topic's deliveries, one call.
        let topic = format!("arn:aws:sns:us-east-1:{recovered}:{TOPIC_NAME}");
        let alarmed = MetricDataQuery {
            namespace: NAMESPACE.into(),
            metric_name: orgwatch_core::controls::metric_name(org.controls()[0]),
            dimensions: Vec::new(),
            stat: "Sum".into(),
            period_seconds: 300,
        };
        let [delivered, failed] = orgwatch_core::evaluate::advice::delivery_queries(&topic);
        server.reset_counts();
        let values = reads.get_metric_data(&session, "us-east-1", start, end, &[alarmed, delivered, failed]).await.expect("metric data");
        assert_eq!(server.calls_by_operation()["cloudwatch:GetMetricData"], 1);
        let [alarmed, delivered, failed] = values.as_slice() else { panic!("one result per query: {values:?}") };
        assert!(alarmed.values.iter().filter(|v| **v >= 2.0).count() >= 84, "it fired every two hours: {alarmed:?}");
        assert!(alarmed.timestamps.windows(2).all(|w| w[0] < w[1]) && alarmed.timestamps.iter().all(|t| *t >= start && *t < end), "oldest first, within the window");
        assert!(delivered.values.iter().sum::<f64>() > 0.0 && failed.values.iter().sum::<f64>() == 0.0, "{delivered:?} {failed:?}");

        // DescribeAlarms: every page, metric-math and composite alarms.
        let many = reads.assume_role(&first(Kind::ManyAlarms)).await.expect("role");
        server.reset_counts();
        let alarms = reads.describe_alarms(&many, "us-east-1").await.expect("alarms");
        assert_eq!((alarms.metric.len(), alarms.composite.len()), (1 + FILLER_ALARMS, 0));
        assert_eq!(server.calls_by_operation()["cloudwatch:DescribeAlarms"], 3, "three pages of 100");
        let fill = reads.assume_role(&first(Kind::MetricMath(MathShape::Fill))).await.expect("role");
        let alarms = reads.describe_alarms(&fill, "us-east-1").await.expect("alarms");
        let [math] = alarms.metric.as_slice() else { panic!("{alarms:?}") };
        assert_eq!((math.metric_name.as_deref(), math.namespace.as_deref(), math.statistic.as_deref()), (None, None, None));
        assert_eq!(math.metrics.len(), 2);
        let stat = math.metrics[0].metric.as_ref().expect("m1 reads a metric");
        assert_eq!((stat.metric_name.as_str(), stat.stat.as_str(), math.metrics[0].return_data), (orgwatch_core::controls::metric_name(org.controls()[0]).as_str(), "Sum", false));
        assert_eq!((math.metrics[1].expression.as_deref(), math.metrics[1].return_data), (Some("FILL(m1, 0)"), true));
        let nested = reads.assume_role(&first(Kind::Composite(CompositeShape::Nested))).await.expect("role");
        let alarms = reads.describe_alarms(&nested, "us-east-1").await.expect("alarms");
        assert_eq!(alarms.metric.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), [OTHER_SIGNAL_ALARM, format!("{}-alarm", org.controls()[0]).as_str()], "by name");
        assert!(alarms.metric.iter().all(|a| a.alarm_actions.is_empty() && a.actions_enabled));
        let [middle, pager] = alarms.composite.as_slice() else { panic!("{alarms:?}") };
        assert_eq!(middle.rule, format!("ALARM(\"{}-alarm\") OR ALARM(\"{OTHER_SIGNAL_ALARM}\")", org.controls()[0]));
        assert!(middle.alarm_actions.is_empty());
        assert_eq!(pager.rule, format!("ALARM(\"{}\")", middle.arn));
        assert!(pager.actions_enabled && pager.alarm_actions.len() == 1 && pager.actions_suppressor.is_none(), "{pager:?}");

        let covered = reads.assume_role(&first(Kind::Covered)).await.expect("role");
        let trails = reads.describe_trails(&covered, "us-east-1").await.expect("trails");
        assert_eq!(trails.len(), 1);
        assert!(trails[0].organization_trail && trails[0].owner_account() == Some(org.management_account_id()), "{trails:?}");
        let status = reads.get_trail_status(&covered, "us-east-1", &trails[0].arn).await.expect_err("only the owner reads the status");
        assert!(status.message.starts_with("TrailNotFoundException"), "{status:?}");

        let uncovered = reads.assume_role(&first(Kind::Compliant)).await.expect("role");
        let trails = reads.describe_trails(&uncovered, "us-east-1").await.expect("trails");
        assert!(trails.len() == 1 && !trails[0].organization_trail, "{trails:?}");
        let group = orgwatch_core::facts::LogGroupRef::from_arn(trails[0].log_group_arn.as_deref().expect("log group")).expect("log group ARN");
        let filters = reads.describe_metric_filters(&covered, &group).await.expect_err("the covered member has no log group of that name");
        assert!(filters.message.starts_with("ResourceNotFoundException"), "{filters:?}");
        server.shutdown().await;

        // Throttling: the SDK retries, and the findings are the same.
        let org = Organization::generate(&OrgSpec { accounts: 200, family: false, seed: 42 });
        let server = Server::start(org, ServerSettings { latency: Duration::from_millis(2), throttle_every: Some(25) }).await.expect("server");
        let scanned = support::scan(&server, 128).await;
        let wrong = support::mismatches(server.organization(), &scanned.findings, AdviceScan::Gathers);
        assert!(wrong.is_empty(), "throttled: {} wrong findings:\n{}", wrong.len(), wrong.join("\n"));
        assert!(server.throttled_calls() > 0);
        eprintln!(
            "200 accounts, every 25th call throttled, 2 ms latency: scan {:.2} s, {} calls, {} throttled",
            scanned.report.duration.as_secs_f64(),
            server.total_calls(),
            server.throttled_calls()
        );
        server.shutdown().await;
    });
}
