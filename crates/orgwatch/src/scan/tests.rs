//! The scan's orchestration, driven with an in-memory organization under tokio's paused clock:
//! no emulator, no real sleeps, a real SQLite file.

use super::*;
use crate::schedule::TokioClock;
use chrono::TimeZone;
use orgwatch_aws::faults::{Fault, FaultRule, Faulty};
use orgwatch_aws::memory::MemoryOrg;
use std::collections::BTreeMap;

const MANAGEMENT: &str = "100000000000";
const SECURITY: &str = "200000000000";
const REGION: &str = "us-east-1";
const LATENCY: Duration = Duration::from_secs(1);
const UNAUTHORIZED: &str = "unauthorized-api-calls";

fn member(i: usize) -> String {
    format!("{:012}", 300_000_000_000usize + i)
}

/// A configuration for a scan of an in-memory organization; `scan` adds to (and overrides the
/// defaults of) the `[scan]` table.
fn config(db: &std::path::Path, scan: &str, organization: &str) -> Config {
    let mut table = scan.to_owned();
    for (key, default) in [("account_timeout_seconds", "60"), ("grace_period_seconds", "10"), ("controls", "[\"unauthorized-api-calls\"]")] {
        if !scan.contains(key) {
            table.push_str(&format!("\n{key} = {default}"));
        }
    }
    // The call counts pinned below are those of the scans between two measurements of advice;
    // the scan that measures is tested on its own.
    Config::parse(&format!(
        "[aws]\nregion = \"{REGION}\"\n[organization]\naudit_role_name = \"OrgwatchAudit\"\n{organization}\n[scan]\n{table}\n[store]\npath = \"{}\"\n[advice]\nenabled = false\n",
        db.display()
    ))
    .expect("test configuration")
}

/// An organization of `members` accounts, each with its own compliant chain for `controls`.
fn organization(members: usize, controls: &[&str]) -> MemoryOrg {
    organization_answering_in(LATENCY, members, controls)
}

/// [`organization`], each call answered after `latency`.
fn organization_answering_in(latency: Duration, members: usize, controls: &[&str]) -> MemoryOrg {
    let mut org = MemoryOrg::new(MANAGEMENT).with_latency(latency);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, controls, None, false);
    for i in 0..members {
        let id = member(i);
        org.add_account(&id, &format!("member-{i}")).deploy_chain(&id, REGION, controls, None, false);
    }
    org
}

fn clock() -> TokioClock {
    TokioClock { start: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(), origin: tokio::time::Instant::now() }
}

fn never() -> watch::Receiver<bool> {
    let (stop, shutdown) = watch::channel(false);
    std::mem::forget(stop);
    shutdown
}

/// The latest (status, reason, message) of one control, by account.
async fn findings(store: &Store) -> BTreeMap<String, (String, String, String)> {
    let table = store.latest_findings(None, None).await.expect("findings");
    let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
    let (account, status, reason, message) = (column("account_id"), column("status"), column("reason"), column("message"));
    table
        .rows
        .iter()
        .map(|row| {
            let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
            (text(account), (text(status), text(reason), text(message)))
        })
        .collect()
}

async fn open(config: &Config) -> Store {
    Store::open(&config.store.path).await.expect("store")
}

async fn scan<R: AwsReads>(reads: &R, config: &Config, shutdown: watch::Receiver<bool>) -> (Store, ScanReport) {
    let store = open(config).await;
    let report = run_scan(reads, &store, config, &clock(), shutdown).await.expect("scan");
    (store, report)
}

#[tokio::test(start_paused = true)]
async fn a_compliant_account_takes_five_dependent_round_trips_and_nine_calls_with_one_control_or_fifteen() {
    let family: Vec<&str> = controls::all().iter().map(|c| c.id).collect();
    // AssumeRole, DescribeTrails, GetTrailStatus, GetEventSelectors, DescribeMetricFilters,
    // DescribeAlarms, GetTopicAttributes, ListSubscriptionsByTopic and the account's
    // DescribeAlarmHistory: 9, however many controls. Every alarm of the account and region
    // comes in one DescribeAlarms, every alarm's latest notification in one history page, and
    // the trail, the log group and the shared topic are read once.
    for (controls, calls) in [(vec![UNAUTHORIZED], 9), (family.clone(), 9)] {
        let dir = tempfile::tempdir().unwrap();
        let org = organization(3, &controls);
        let list = controls.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
        let config = config(&dir.path().join("orgwatch.db"), &format!("controls = [{list}]"), "");
        let (store, report) = scan(&org, &config, never()).await;
        assert_eq!(report.status, ScanStatus::Completed);
        assert_eq!(report.counts.pass as usize, 4 * controls.len());

        for account in [member(0), member(2), MANAGEMENT.to_owned()] {
            let calls_of: Vec<_> = org.calls().into_iter().filter(|c| c.account_id == account && !c.operation.starts_with("organizations:")).collect();
            let mut starts: Vec<_> = calls_of.iter().map(|c| c.started).collect();
            starts.sort();
            starts.dedup();
            assert_eq!(starts.len(), 5, "{account}: AssumeRole, DescribeTrails, status+selectors+filters+alarms, topic+subscriptions, alarm history");
            assert_eq!(calls_of.len(), calls, "{account}: {:?}", calls_of.iter().map(|c| c.operation).collect::<Vec<_>>());
        }
        // The listing (its two calls together), then five round trips, all accounts at once.
        assert_eq!(report.duration, LATENCY * 6, "{controls:?}");
        store.close().await;
    }
}

/// The evidence of an account's latest findings.
async fn latest_evidence(store: &Store, account: &str) -> Vec<serde_json::Value> {
    let table = store.latest_findings(None, Some(account)).await.expect("findings");
    let column = table.columns.iter().position(|c| c == "evidence").expect("evidence column");
    table.rows.iter().map(|row| serde_json::from_str(row[column].as_str().unwrap_or("{}")).unwrap_or_default()).collect()
}

#[tokio::test(start_paused = true)]
async fn advice_costs_one_get_metric_data_a_compliant_account_on_the_scan_that_measures_it_and_none_on_the_next() {
    let family: Vec<&str> = controls::all().iter().map(|c| c.id).collect();
    let dir = tempfile::tempdir().unwrap();
    let org = organization(3, &family);
    let list = family.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
    let mut config = config(&dir.path().join("orgwatch.db"), &format!("controls = [{list}]"), "");
    config.advice = crate::config::AdviceConfig::default();
    let calls_of = |account: &str, operation: Option<&str>| org.calls().into_iter().filter(|c| c.account_id == account && !c.operation.starts_with("organizations:") && operation.is_none_or(|o| c.operation == o)).count();

    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!((report.status, report.counts.pass as usize), (ScanStatus::Completed, 4 * family.len()));
    for account in [member(0), member(2), MANAGEMENT.to_owned()] {
        // The nine calls of every scan, and one GetMetricData for all fifteen alarms and the topic.
        assert_eq!(calls_of(&account, None), 10, "{account}");
        assert_eq!(calls_of(&account, Some("cloudwatch:GetMetricData")), 1, "{account}");
    }
    // One dependent round trip more: the metrics after the history page.
    assert_eq!(report.duration, LATENCY * 7);
    store.close().await;

    // The next scan (the same day) measures nothing.
    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!(report.counts.pass as usize, 4 * family.len());
    for account in [member(0), member(2), MANAGEMENT.to_owned()] {
        assert_eq!(calls_of(&account, None), 10 + 9, "{account}");
        assert_eq!(calls_of(&account, Some("cloudwatch:GetMetricData")), 1, "{account}");
    }
    // The advice it carries was read from the database, each account's before its judgement.
    let carried = latest_evidence(&store, &member(0)).await;
    assert!(carried.iter().all(|e| e["advice"]["window_days"] == 7), "{carried:?}");
    store.close().await;
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_bound_is_never_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let org = organization(39, &[UNAUTHORIZED]);
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 4", "");
    let (_store, report) = scan(&org, &config, never()).await;
    assert_eq!((report.status, report.accounts_judged), (ScanStatus::Completed, 40));
    assert_eq!(org.max_accounts_in_flight(), 4);
    // Ten waves of five round trips after the listing: the bound costs time, not verdicts.
    assert_eq!(report.duration, LATENCY * (1 + 10 * 5));
}

#[tokio::test(start_paused = true)]
async fn an_account_that_hangs_times_out_as_an_error_and_the_scan_completes() {
    let dir = tempfile::tempdir().unwrap();
    let org = organization(3, &[UNAUTHORIZED]);
    let hang = FaultRule { account_id: Some(member(1)), operation: Some("logs:DescribeMetricFilters"), fault: Fault::Hang, times: None };
    let reads = Faulty::new(org, vec![hang]);
    let config = config(&dir.path().join("orgwatch.db"), "account_timeout_seconds = 30", "");
    let (store, report) = scan(&reads, &config, never()).await;
    assert_eq!(report.status, ScanStatus::Completed);
    let found = findings(&store).await;
    let (status, reason, message) = &found[&member(1)];
    assert_eq!((status.as_str(), reason.as_str()), ("ERROR", "API_ERROR"));
    assert!(message.contains("timed out after 30 s") && message.contains("metric filters"), "{message}");
    assert_eq!(found[&member(0)].1, "COMPLIANT");
    assert_eq!(report.duration, Duration::from_secs(1 + 30), "the others finish long before");
}

#[tokio::test(start_paused = true)]
async fn after_shutdown_accounts_in_flight_finish_within_the_grace_period_and_no_new_one_starts() {
    for (grace, judged) in [(10, 4), (2, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let (stop, shutdown) = watch::channel(false);
        // The signal comes when the fourth account reads its trails: the first four accounts
        // are two round trips in, at t = 2 s.
        let trails_read = std::sync::atomic::AtomicUsize::new(0);
        let org = organization(19, &[UNAUTHORIZED]).with_observer(move |call| {
            if call.operation == "cloudtrail:DescribeTrails" && trails_read.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 3 {
                let _ = stop.send(true);
            }
        });
        let config = config(&dir.path().join("orgwatch.db"), &format!("concurrency = 4\ngrace_period_seconds = {grace}"), "");
        let (store, report) = scan(&org, &config, shutdown).await;
        assert_eq!(report.status, ScanStatus::Interrupted, "grace {grace}");
        assert_eq!(report.accounts_judged, judged, "grace {grace}");
        assert_eq!(findings(&store).await.len(), judged, "grace {grace}");
        let assumed: usize = org.calls().iter().filter(|c| c.operation == "sts:AssumeRole").count();
        assert_eq!(assumed, 4, "grace {grace}: no account starts after the signal");
        // The four finish after the listing and their five round trips, at t = 6 s, within a
        // grace of 10 s from t = 2 s; a grace of 2 s ends before.
        let expected = if judged > 0 { LATENCY * 6 } else { LATENCY * 2 + Duration::from_secs(grace) };
        assert_eq!(report.duration, expected, "grace {grace}");
        let scans = store.query("SELECT status, error FROM scans").await.unwrap();
        assert_eq!(scans.rows[0][0], "interrupted");
    }
}

/// The management account owns an organization trail with the whole chain; members have no
/// trail of their own; a security account's topic, whose policy admits every account's alarms
/// of the organization, is notified by other members' alarms.
fn landing_zone(members: usize) -> MemoryOrg {
    let mut org = MemoryOrg::new(MANAGEMENT).with_latency(LATENCY);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, &[UNAUTHORIZED], None, true);
    let security_topic = org.add_account(SECURITY, "security").add_topic(SECURITY, REGION, "security-alerts", true);
    org.admit_organization_alarms(&security_topic);
    org.account_mut(SECURITY).deploy_chain(SECURITY, REGION, &[UNAUTHORIZED], Some(&security_topic), false);
    for i in 0..members {
        let id = member(i);
        let account = org.add_account(&id, &format!("member-{i}"));
        if i % 2 == 1 {
            // Its own trail and alarm, notifying the security account's topic.
            account.deploy_chain(&id, REGION, &[UNAUTHORIZED], Some(&security_topic), false);
        }
    }
    org
}

#[tokio::test(start_paused = true)]
async fn each_cross_account_fact_is_read_once_per_scan_through_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let org = landing_zone(30);
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 8", "");
    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!(report.status, ScanStatus::Completed);
    let found = findings(&store).await;
    assert_eq!(found.len(), 32);
    for (account, (status, reason, message)) in &found {
        assert_eq!((status.as_str(), reason.as_str()), ("PASS", "COMPLIANT"), "{account}: {message}");
    }
    let chain = [
        "sts:AssumeRole",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
        "logs:DescribeMetricFilters",
        "cloudwatch:DescribeAlarms",
        "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        "cloudwatch:DescribeAlarmHistory",
    ];
    for operation in chain {
        assert_eq!(org.call_count(MANAGEMENT, operation), 1, "{operation} in the management account");
    }
    // The central topic once for every account that notifies it; the security account's own
    // alarm's history once.
    for operation in ["sts:AssumeRole", "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic", "cloudwatch:DescribeAlarmHistory"] {
        assert_eq!(org.call_count(SECURITY, operation), 1, "{operation} in the security account");
    }
    // The topic's policy names the organization's id, not paths: no account's path is read.
    assert_eq!(org.calls().iter().filter(|c| c.operation == "organizations:ListParents").count(), 0);
    // A member covered by the organization trail reads only its own trails.
    let reads_of_member: Vec<_> = org.calls().into_iter().filter(|c| c.account_id == member(0)).map(|c| c.operation).collect();
    assert_eq!(reads_of_member, vec!["sts:AssumeRole", "cloudtrail:DescribeTrails"]);
}

#[tokio::test(start_paused = true)]
async fn an_owner_whose_role_is_refused_is_named_in_every_finding_that_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut org = landing_zone(4);
    org.account_mut(MANAGEMENT).assumable = false;
    let config = config(&dir.path().join("orgwatch.db"), "", "");
    let (store, _) = scan(&org, &config, never()).await;
    let found = findings(&store).await;
    for i in [0, 2] {
        let (status, reason, message) = &found[&member(i)];
        assert_eq!((status.as_str(), reason.as_str()), ("ERROR", "ROLE_ASSUMPTION_FAILED"), "{message}");
        assert!(message.contains(MANAGEMENT), "the owner is named: {message}");
    }
    assert_eq!(found[MANAGEMENT].1, "ROLE_ASSUMPTION_FAILED");
    assert_eq!(found[&member(1)].1, "COMPLIANT", "a member with its own chain does not need the management account");
    assert_eq!(org.call_count(MANAGEMENT, "sts:AssumeRole"), 1, "a refused role is asked once per scan");
}

// Real time, not the paused clock: what is asserted is the order of a real SQLite write and
// the accounts' calls, and a paused clock would run the calls ahead while the write is on disk.
#[tokio::test]
async fn a_finding_that_cannot_be_written_fails_the_scan_and_no_account_starts_after() {
    let dir = tempfile::tempdir().unwrap();
    // 100 ms a call: each wave of two accounts takes 0.6 s, far longer than a write.
    let org = organization(5, &[UNAUTHORIZED]).with_latency(Duration::from_millis(100));
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 2", "");
    let store = open(&config).await;
    store.fail_finding_writes("disk I/O error").await.unwrap();
    let report = run_scan(&org, &store, &config, &clock(), never()).await.unwrap();
    assert_eq!(report.status, ScanStatus::Failed);
    assert_eq!(report.accounts_judged, 0);
    // Each of the first two accounts frees a place as it finishes, and the loop fills it before
    // that account's write has failed: three or four start, the others never (a wave takes
    // 0.6 s, a failed write milliseconds).
    let started: usize = org.calls().iter().filter(|c| c.operation == "sts:AssumeRole").count();
    assert!((3..=4).contains(&started), "no account starts once a write has failed ({started} of 6 started)");
    let scans = store.query("SELECT status, error FROM scans").await.unwrap();
    assert_eq!(scans.rows[0][0], "failed");
    assert!(scans.rows[0][1].as_str().unwrap_or_default().contains("disk I/O error"), "{:?}", scans.rows);
}

#[tokio::test(start_paused = true)]
async fn an_organization_that_cannot_be_listed_fails_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let refused = FaultRule { account_id: None, operation: Some("organizations:ListAccounts"), fault: Fault::AccessDenied, times: None };
    let reads = Faulty::new(organization(2, &[UNAUTHORIZED]), vec![refused]);
    let config = config(&dir.path().join("orgwatch.db"), "", "");
    let store = open(&config).await;
    let error = run_scan(&reads, &store, &config, &clock(), never()).await.unwrap_err();
    assert!(matches!(error, ScanError::Organization(_)), "{error}");
    let scans = store.query("SELECT status FROM scans").await.unwrap();
    assert_eq!(scans.rows[0][0], "failed");
}

#[tokio::test(start_paused = true)]
async fn a_role_kept_for_a_long_scan_is_assumed_again_before_it_could_expire() {
    // Each member alarms through a topic of its own in the security account, so the security
    // account's role is used from the first account to the last.
    let mut org = MemoryOrg::new(MANAGEMENT).with_latency(LATENCY);
    org.add_account(SECURITY, "security");
    let members = 200;
    for i in 0..members {
        let id = member(i);
        let topic = org.account_mut(SECURITY).add_topic(SECURITY, REGION, &format!("team-{i}"), true);
        org.admit_organization_alarms(&topic);
        org.add_account(&id, &format!("member-{i}")).deploy_chain(&id, REGION, &[UNAUTHORIZED], Some(&topic), false);
    }
    let dir = tempfile::tempdir().unwrap();
    // Sessions last 900 s; with a 60 s account timeout a role is assumed again after 840 s.
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 1", "");
    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!(report.status, ScanStatus::Completed);
    assert!(report.duration > Duration::from_secs(840), "{:?}", report.duration);
    let found = findings(&store).await;
    assert!(found.iter().filter(|(id, _)| id.starts_with('3')).all(|(_, (_, reason, _))| reason == "COMPLIANT"), "{found:?}");
    let assumed = org.call_count(SECURITY, "sts:AssumeRole");
    let expected = 1 + (report.duration.as_secs() - 1) / 840;
    assert!(assumed >= 2 && assumed as u64 <= expected + 1, "assumed {assumed} times in {:?}", report.duration);
}

#[tokio::test(start_paused = true)]
async fn accounts_are_judged_while_the_listing_goes_on_and_an_owner_listed_later_is_waited_for() {
    // Sixty accounts, three pages of twenty; the security account, whose topic member 0's
    // alarm notifies, sorts last and is listed on the last page.
    const LATE_SECURITY: &str = "900000000000";
    let mut org = MemoryOrg::new(MANAGEMENT).with_latency(LATENCY);
    org.account_mut(MANAGEMENT).deploy_chain(MANAGEMENT, REGION, &[UNAUTHORIZED], None, false);
    let topic = org.add_account(LATE_SECURITY, "security").add_topic(LATE_SECURITY, REGION, "security-alerts", true);
    org.admit_organization_alarms(&topic);
    org.account_mut(LATE_SECURITY).deploy_chain(LATE_SECURITY, REGION, &[UNAUTHORIZED], Some(&topic), false);
    for i in 0..58 {
        let id = member(i);
        org.add_account(&id, &format!("member-{i}")).deploy_chain(&id, REGION, &[UNAUTHORIZED], (i == 0).then_some(topic.as_str()), false);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 16", "");
    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!((report.status, report.accounts_total, report.accounts_judged), (ScanStatus::Completed, 60, 60));
    let found = findings(&store).await;
    assert_eq!(found.len(), 60);
    for (account, (_, reason, message)) in &found {
        assert_eq!(reason, "COMPLIANT", "{account}: {message}");
    }

    let calls = org.calls();
    let started = |account: &str, operation: &str| calls.iter().filter(|c| c.account_id == account && c.operation == operation).map(|c| c.started).min().expect("called");
    let pages: Vec<Instant> = calls.iter().filter(|c| c.operation == "organizations:ListAccounts").map(|c| c.started).collect();
    assert_eq!(pages.len(), 3, "twenty accounts a page");
    assert!(started(&member(0), "sts:AssumeRole") < pages[2], "the first page's accounts are judged before the last page is read");
    assert!(started(LATE_SECURITY, "sns:GetTopicAttributes") >= pages[2] + LATENCY, "the topic is read once its owner is listed");
    assert_eq!(org.call_count(LATE_SECURITY, "sns:GetTopicAttributes"), 1);
    let recorded = store.query("SELECT accounts_total, (SELECT COUNT(*) FROM scan_accounts) FROM scans").await.unwrap();
    assert_eq!(recorded.rows[0], vec![serde_json::json!(60), serde_json::json!(60)]);
}

/// An in-memory organization whose ListAccounts fails from its second page on.
struct ListingFailsAfterFirstPage(MemoryOrg, std::sync::atomic::AtomicUsize);

impl AwsReads for ListingFailsAfterFirstPage {
    type Session = String;

    async fn describe_organization(&self) -> Result<orgwatch_aws::Organization, orgwatch_aws::AwsError> {
        self.0.describe_organization().await
    }
    async fn list_accounts_page(&self, next_token: Option<String>) -> Result<AccountsPage, orgwatch_aws::AwsError> {
        if self.1.fetch_add(1, Ordering::Relaxed) >= 1 {
            let message = "TooManyRequestsException: rate exceeded".to_owned();
            return Err(orgwatch_aws::AwsError::Service { operation: "organizations:ListAccounts", code: Some("TooManyRequestsException".into()), message });
        }
        self.0.list_accounts_page(next_token).await
    }
    async fn assume_role(&self, account_id: &str) -> Result<String, String> {
        self.0.assume_role(account_id).await
    }
    async fn describe_trails(&self, s: &String, region: &str) -> orgwatch_core::Observed<Vec<orgwatch_core::facts::Trail>> {
        self.0.describe_trails(s, region).await
    }
    async fn get_trail_status(&self, s: &String, region: &str, arn: &str) -> orgwatch_core::Observed<orgwatch_core::facts::TrailStatus> {
        self.0.get_trail_status(s, region, arn).await
    }
    async fn get_event_selectors(&self, s: &String, region: &str, arn: &str) -> orgwatch_core::Observed<orgwatch_core::facts::EventSelectors> {
        self.0.get_event_selectors(s, region, arn).await
    }
    async fn describe_metric_filters(&self, s: &String, group: &orgwatch_core::facts::LogGroupRef) -> orgwatch_core::Observed<Vec<orgwatch_core::facts::MetricFilter>> {
        self.0.describe_metric_filters(s, group).await
    }
    async fn describe_alarms(&self, s: &String, region: &str) -> orgwatch_core::Observed<orgwatch_core::facts::Alarms> {
        self.0.describe_alarms(s, region).await
    }
    async fn get_topic_attributes(&self, s: &String, region: &str, arn: &str) -> orgwatch_core::Observed<orgwatch_core::facts::Topic> {
        self.0.get_topic_attributes(s, region, arn).await
    }
    async fn list_subscriptions_by_topic(&self, s: &String, region: &str, arn: &str) -> orgwatch_core::Observed<Vec<orgwatch_core::facts::Subscription>> {
        self.0.list_subscriptions_by_topic(s, region, arn).await
    }
    async fn describe_key(&self, s: &String, region: &str, key_id: &str) -> orgwatch_core::Observed<orgwatch_core::facts::Key> {
        self.0.describe_key(s, region, key_id).await
    }
    async fn get_key_policy(&self, s: &String, region: &str, key_id: &str) -> orgwatch_core::Observed<String> {
        self.0.get_key_policy(s, region, key_id).await
    }
    async fn describe_alarm_history(&self, s: &String, region: &str, alarm_name: Option<&str>, every_kind: bool) -> orgwatch_core::Observed<orgwatch_core::facts::AlarmHistory> {
        self.0.describe_alarm_history(s, region, alarm_name, every_kind).await
    }
    async fn describe_alarm_states(&self, s: &String, region: &str, alarm_name: &str, start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>) -> orgwatch_core::Observed<orgwatch_core::facts::AlarmHistory> {
        self.0.describe_alarm_states(s, region, alarm_name, start, end).await
    }
    async fn get_metric_data(&self, s: &String, region: &str, start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>, queries: &[orgwatch_core::facts::MetricDataQuery]) -> orgwatch_core::Observed<Vec<orgwatch_core::facts::MetricValues>> {
        self.0.get_metric_data(s, region, start, end, queries).await
    }
    async fn org_path(&self, account_id: &str) -> orgwatch_core::Observed<String> {
        self.0.org_path(account_id).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_listing_that_fails_part_way_fails_the_scan_and_keeps_what_was_judged() {
    let dir = tempfile::tempdir().unwrap();
    // 45 accounts: three pages; the second fails.
    let reads = ListingFailsAfterFirstPage(organization(44, &[UNAUTHORIZED]), Default::default());
    let config = config(&dir.path().join("orgwatch.db"), "concurrency = 4", "");
    let store = open(&config).await;
    let error = run_scan(&reads, &store, &config, &clock(), never()).await.unwrap_err();
    assert!(matches!(error, ScanError::Organization(_)), "{error}");
    let scans = store.query("SELECT status, error, accounts_total FROM scans").await.unwrap();
    assert_eq!(scans.rows[0][0], "failed");
    assert!(scans.rows[0][1].as_str().unwrap_or_default().contains("TooManyRequestsException"), "{:?}", scans.rows);
    assert_eq!(scans.rows[0][2], serde_json::json!(20), "the first page's accounts were recorded");
    // The accounts already in flight when the listing failed were judged and kept; no other started.
    let found = findings(&store).await;
    assert!(!found.is_empty() && found.len() <= 4, "{} accounts judged", found.len());
    assert!(found.values().all(|(_, reason, _)| reason == "COMPLIANT"));
    let started = reads.0.calls().iter().filter(|c| c.operation == "sts:AssumeRole").count();
    assert_eq!(started, found.len());
}

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

#[tokio::test(start_paused = true)]
async fn a_topic_encrypted_with_a_customer_managed_key_adds_its_description_and_policy() {
    // The key named by ARN: DescribeKey and GetKeyPolicy in one round after the topic's, then
    // the alarm's history. By alias: DescribeKey says which key it names, then GetKeyPolicy of
    // that key, so one round more.
    for (named, rounds) in [("arn", 6), ("alias", 7)] {
        let dir = tempfile::tempdir().unwrap();
        let mut org = organization(3, &[UNAUTHORIZED]);
        for account_id in [MANAGEMENT.to_owned(), member(0), member(1), member(2)] {
            let account = org.account_mut(&account_id);
            let arn = account.add_key(&account_id, REGION, KEY_ID, &["alias/alarms"]);
            account.keys.get_mut(&arn).unwrap().policy = orgwatch_aws::memory::cloudwatch_key_policy(&account_id);
            let topic = format!("arn:aws:sns:{REGION}:{account_id}:security-alerts");
            account.topics.get_mut(&topic).unwrap().kms_master_key_id = Some(if named == "arn" { arn } else { "alias/alarms".to_owned() });
        }
        let config = config(&dir.path().join("orgwatch.db"), "", "");
        let (store, report) = scan(&org, &config, never()).await;
        assert_eq!(report.status, ScanStatus::Completed);
        for (account, (status, reason, message)) in findings(&store).await {
            assert_eq!((status.as_str(), reason.as_str()), ("PASS", "COMPLIANT"), "{named}: {account}: {message}");
        }
        for account in [member(0), MANAGEMENT.to_owned()] {
            let calls_of: Vec<_> = org.calls().into_iter().filter(|c| c.account_id == account && !c.operation.starts_with("organizations:")).collect();
            let mut starts: Vec<_> = calls_of.iter().map(|c| c.started).collect();
            starts.sort();
            starts.dedup();
            assert_eq!(starts.len(), rounds, "{named}: {account}");
            // The nine calls of a compliant chain and the key's two.
            assert_eq!(calls_of.len(), 9 + 2, "{named}: {account}: {:?}", calls_of.iter().map(|c| c.operation).collect::<Vec<_>>());
            assert_eq!(org.call_count(&account, "kms:DescribeKey"), 1, "{named}: {account}");
            assert_eq!(org.call_count(&account, "kms:GetKeyPolicy"), 1, "{named}: {account}");
        }
        assert_eq!(report.duration, LATENCY * (1 + rounds as u32), "{named}");
        store.close().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_topic_policy_on_organization_paths_reads_each_accounts_path_with_orgwatchs_own_identity() {
    let mut org = MemoryOrg::new(MANAGEMENT).with_latency(LATENCY);
    org.add_ou("ou-a1b2-workloads", None);
    let topic = org.add_account(SECURITY, "security").add_topic(SECURITY, REGION, "security-alerts", true);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Workloads",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": format!("{}/r-a1b2/ou-a1b2-workloads/*", org.organization_id())}}
        }]
    });
    org.account_mut(SECURITY).topics.get_mut(&topic).unwrap().policy = Some(policy.to_string());
    for i in 0..2 {
        let id = member(i);
        let account = org.add_account(&id, &format!("member-{i}"));
        account.deploy_chain(&id, REGION, &[UNAUTHORIZED], Some(&topic), false);
        // Member 0 is a workload; member 1 sits at the root.
        account.parent = (i == 0).then(|| "ou-a1b2-workloads".to_owned());
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir.path().join("orgwatch.db"), "", &format!("include_accounts = [\"{}\", \"{}\"]", member(0), member(1)));
    let (store, _) = scan(&org, &config, never()).await;
    let found = findings(&store).await;
    assert_eq!(found[&member(0)].1, "COMPLIANT", "{}", found[&member(0)].2);
    assert_eq!(found[&member(1)].1, "SNS_TOPIC_POLICY_DENIES_PUBLISH", "{}", found[&member(1)].2);
    // Each path read once, a call a level, with orgwatch's own identity: the member's parent
    // OU, then the OU's root; the member at the root, one call.
    let parents: Vec<String> = org.calls().into_iter().filter(|c| c.operation == "organizations:ListParents").map(|c| format!("{} {}", c.account_id, c.target)).collect();
    let mut expected = vec![format!("{MANAGEMENT} {}", member(0)), format!("{MANAGEMENT} ou-a1b2-workloads"), format!("{MANAGEMENT} {}", member(1))];
    let mut parents_sorted = parents.clone();
    parents_sorted.sort();
    expected.sort();
    assert_eq!(parents_sorted, expected, "{parents:?}");
    assert_eq!(org.call_count(MANAGEMENT, "sts:AssumeRole"), 0, "the management account's role is not needed for a path");
}

/// The JSON log lines of this thread while the guard [`Logs::capture`] returns is held (a
/// `#[tokio::test]` runs its tasks on the test's thread).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_max_level(tracing::Level::INFO).with_writer(logs.clone()).finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    /// The lines with this message, each parsed.
    fn with_message(&self, message: &str) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()).expect("UTF-8 logs");
        text.lines().map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{line}: {e}"))).filter(|line| line["message"] == message).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_scan_logs_its_progress_every_five_seconds_and_a_fast_one_not_at_all() {
    let (logs, _guard) = Logs::capture();
    // Forty accounts four at a time: after the listing (1 s), a wave of four every five
    // seconds, at t = 6, 11, … 51 s; progress at t = 5, 10, … 50 s.
    let dir = tempfile::tempdir().unwrap();
    let org = organization(39, &[UNAUTHORIZED]);
    let slow = config(&dir.path().join("orgwatch.db"), "concurrency = 4", "");
    let (store, report) = scan(&org, &slow, never()).await;
    assert_eq!((report.status, report.duration), (ScanStatus::Completed, LATENCY * 51));
    let lines = logs.with_message("Scan progress");
    let counts: Vec<_> = lines.iter().map(|l| (l["listed"].as_u64(), l["judged"].as_u64(), l["left"].as_u64(), l["listing_done"].as_bool())).collect();
    let expected: Vec<_> = (0..10).map(|k| (Some(40), Some(4 * k), Some(40 - 4 * k), Some(true))).collect();
    assert_eq!(counts, expected);
    // Nothing judged at 5 s: a rate of zero and no estimate. Four in ten seconds at 10 s: 36
    // left at 0.4/s. From 35 s, the last thirty seconds: 24 judged, 0.8/s; at 50 s, 4 left.
    assert_eq!((lines[0]["rate"].as_f64(), lines[0].get("eta_seconds")), (Some(0.0), None), "{}", lines[0]);
    assert_eq!((lines[1]["rate"].as_f64(), lines[1]["eta_seconds"].as_u64()), (Some(0.4), Some(90)), "{}", lines[1]);
    for line in &lines[6..] {
        assert_eq!(line["rate"].as_f64(), Some(0.8), "{line}");
    }
    assert_eq!(lines[9]["eta_seconds"].as_u64(), Some(5), "{}", lines[9]);
    assert!(lines.iter().all(|l| l["span"]["scan_id"] == report.scan_id && l["level"] == "INFO"), "{lines:?}");
    store.close().await;

    // Four accounts answering in half a second: done in 3 s, before the first line is due.
    let dir = tempfile::tempdir().unwrap();
    let org = organization_answering_in(Duration::from_millis(500), 3, &[UNAUTHORIZED]);
    let config = config(&dir.path().join("orgwatch.db"), "", "");
    let (store, report) = scan(&org, &config, never()).await;
    assert_eq!((report.status, report.duration), (ScanStatus::Completed, Duration::from_secs(3)));
    assert!(report.duration < display::LOG_EVERY);
    assert_eq!(logs.with_message("Scan progress").len(), 10, "no line more for the fast scan");
    assert_eq!(logs.with_message("Scan finished").len(), 2, "both scans logged their end");
    store.close().await;
}

#[tokio::test(start_paused = true)]
async fn on_a_terminal_the_bar_counts_the_accounts_and_is_cleared_however_the_scan_ends() {
    use crate::telemetry::tests::Recorder;
    use indicatif::{ProgressBar, ProgressDrawTarget};
    for ending in ["completed", "interrupted", "failed"] {
        let dir = tempfile::tempdir().unwrap();
        let (stop, shutdown) = watch::channel(false);
        // Interrupted: the signal comes as the fifth account reads its trails, in the second wave.
        let trails_read = std::sync::atomic::AtomicUsize::new(0);
        let org = organization(39, &[UNAUTHORIZED]).with_observer(move |call| {
            if ending == "interrupted" && call.operation == "cloudtrail:DescribeTrails" && trails_read.fetch_add(1, Ordering::SeqCst) == 4 {
                let _ = stop.send(true);
            }
        });
        let refused = FaultRule { account_id: None, operation: Some("organizations:ListAccounts"), fault: Fault::AccessDenied, times: None };
        let reads = Faulty::new(org, if ending == "failed" { vec![refused] } else { vec![] });
        let config = config(&dir.path().join("orgwatch.db"), "concurrency = 4", "");
        let store = open(&config).await;
        let term = Recorder::default();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::term_like(Box::new(term.clone())));
        let outcome = run_scan_showing(&reads, &store, &config, &clock(), shutdown, Progress::Bar(bar.clone())).await;
        let ops = term.ops();
        let drawn = |text: &str| ops.iter().any(|op| op.starts_with("bar ") && op.contains(text));
        match ending {
            "completed" => {
                assert_eq!(outcome.as_ref().map(|r| r.status).ok(), Some(ScanStatus::Completed));
                assert!(drawn(" 0/40 judged · 40 left · 0.0/s"), "{ops:?}");
                assert!(drawn(" 4/40 judged · 36 left"), "{ops:?}");
                assert!(drawn(" 40/40 judged · 0 left"), "{ops:?}");
                // The rate and the estimate, drawn each second: 24 judged in the thirty
                // seconds to t = 35 s, 16 left.
                assert!(drawn(" 24/40 judged · 16 left · 0.8/s · ETA 20s"), "{ops:?}");
            }
            "interrupted" => {
                assert_eq!(outcome.as_ref().map(|r| (r.status, r.accounts_judged)).ok(), Some((ScanStatus::Interrupted, 8)));
                assert!(drawn("· stopping"), "{ops:?}");
                assert!(!drawn(" 9/40 judged"), "{ops:?}");
            }
            _ => {
                assert!(matches!(outcome, Err(ScanError::Organization(_))));
                assert!(drawn(" 0/0 judged · 0 left (listing) · measuring the rate"), "{ops:?}");
            }
        }
        assert!(bar.is_finished(), "{ending}");
        // Nothing is drawn after the bar's line is cleared.
        let last_drawn = ops.iter().rposition(|op| op.starts_with("bar ")).unwrap_or_else(|| panic!("{ending}: nothing drawn"));
        assert!(ops[last_drawn + 1..].contains(&"clear".to_owned()), "{ending}: {ops:?}");
        store.close().await;
    }
}
