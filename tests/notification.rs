//! Whether the alarm's notification can really travel, end to end against the emulator: the
//! topic's access policy judged for CloudWatch's publish, the topic's KMS key and its policy
//! read in the key's own account, and what CloudWatch recorded of the alarm's latest
//! notification (tests/emulator/build_org.py's setups, one central account per policy case).

use orgwatch_tests::{Emulator, Org, counter, describe, latest};
use serde_json::{Value, json};
use std::collections::BTreeMap;

type Found = BTreeMap<String, (String, String)>;

/// Builds the organization, scans it once, and returns the latest findings with the config.
async fn scan(emulator: &Emulator, spec: Value, rules: impl FnOnce(&Org) -> Value) -> (Org, Found, tempfile::TempDir) {
    let org = emulator.build(spec);
    emulator.set_faults(rules(&org));
    let dir = tempfile::tempdir().unwrap();
    let config = emulator.write_config(dir.path(), "concurrency = 8", "");
    let output = emulator.run(&["scan", "--config", config.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let found = latest(&dir.path().join("orgwatch.db")).await;
    (org, found, dir)
}

fn expect(found: &Found, org: &Org, cases: &[(&str, &str, &str)]) {
    for (name, status, reason) in cases {
        assert_eq!(found[org.id(name)], ((*status).to_owned(), (*reason).to_owned()), "{name}");
    }
}

/// The latest finding of an account: its message and evidence.
fn finding(emulator: &Emulator, dir: &tempfile::TempDir, account: &str) -> (String, Value) {
    emulator.finding(&dir.path().join("orgwatch.toml"), account)
}

fn link<'e>(evidence: &'e Value, kind: &str) -> &'e Value {
    evidence["links"].as_array().unwrap().iter().rev().find(|l| l["kind"] == kind).unwrap_or_else(|| panic!("no {kind} link in {evidence}"))
}

#[tokio::test]
async fn a_central_topic_behind_snss_default_policy_refuses_other_accounts_alarms_and_admitting_the_organization_mends_it() {
    let emulator = Emulator::start();
    let spec = json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "security", "setup": "compliant"},
            {"name": "app-default-policy", "setup": "central-topic-default-policy", "topic_account": "security"},
            {"name": "security-org", "setup": "compliant"},
            {"name": "app-org-policy", "setup": "compliant", "topic_account": "security-org"},
        ],
    });
    let (org, found, dir) = scan(&emulator, spec, |org| json!([counter(org.id("app-default-policy"), "monitoring", "DescribeAlarmHistory")])).await;
    expect(
        &found,
        &org,
        &[
            ("app-default-policy", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
            ("security", "PASS", "COMPLIANT"),
            ("app-org-policy", "PASS", "COMPLIANT"),
            ("security-org", "PASS", "COMPLIANT"),
        ],
    );
    let (message, evidence) = finding(&emulator, &dir, org.id("app-default-policy"));
    assert!(message.contains("No statement of topic") && message.contains("AWS:SourceOwner"), "{message}");
    let policy = link(&evidence, "topic-policy");
    assert_eq!(policy["account_id"], org.id("security"), "read in the topic owner's account");
    assert_eq!(policy["attributes"]["decision"], "not-allowed");
    assert!(policy["attributes"]["policy"].as_str().unwrap().contains("__default_statement_ID"));
    assert_eq!(emulator.fired(org.id("app-default-policy"), "DescribeAlarmHistory"), 0, "a broken chain reads no history");

    let (_, evidence) = finding(&emulator, &dir, org.id("app-org-policy"));
    assert_eq!(link(&evidence, "topic-policy")["detail"], "allowed by statement \"AllowOrganizationAlarms\"");
}

#[tokio::test]
async fn topic_policies_that_admit_other_accounts_deny_all_but_one_admit_only_an_operations_role_or_name_an_ou_path_are_judged_by_meaning() {
    let emulator = Emulator::start();
    let spec = json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "security-others", "setup": "compliant"},
            {"name": "app-not-among-the-admitted", "setup": "central-topic-admits-other-accounts", "topic_account": "security-others"},
            {"name": "security-deny", "setup": "compliant"},
            {"name": "app-the-one-spared", "setup": "compliant-central-topic-org-deny-others", "topic_account": "security-deny"},
            {"name": "ops-role-only", "setup": "topic-policy-ops-role-only"},
            {"name": "undecidable", "setup": "topic-policy-undecidable"},
            {"name": "security-ou", "setup": "compliant"},
            {"name": "app-in-the-ou", "setup": "compliant-central-topic-ou-path", "topic_account": "security-ou"},
            {"name": "security-ou-2", "setup": "compliant"},
            {"name": "app-in-another-ou", "setup": "central-topic-ou-path-other-ou", "topic_account": "security-ou-2"},
        ],
    });
    let (org, found, dir) = scan(&emulator, spec, |_| json!([])).await;
    expect(
        &found,
        &org,
        &[
            ("app-not-among-the-admitted", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
            ("app-the-one-spared", "PASS", "COMPLIANT"),
            // The Deny spares only app-the-one-spared: the topic's owner is denied too.
            ("security-deny", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
            ("ops-role-only", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
            ("undecidable", "ERROR", "POLICY_UNDECIDABLE"),
            ("app-in-the-ou", "PASS", "COMPLIANT"),
            ("app-in-another-ou", "FAIL", "SNS_TOPIC_POLICY_DENIES_PUBLISH"),
        ],
    );
    let (message, evidence) = finding(&emulator, &dir, org.id("security-deny"));
    assert!(message.starts_with("Statement \"") && message.contains("denies CloudWatch's publish"), "names the denying statement: {message}");
    assert_eq!(link(&evidence, "topic-policy")["attributes"]["decision"], "denied");
    let (message, _) = finding(&emulator, &dir, org.id("undecidable"));
    assert!(message.contains("NumericLessThan"), "names what cannot be judged: {message}");
}

#[tokio::test]
async fn customer_managed_keys_without_a_grant_to_cloudwatch_disabled_or_pending_deletion_fail_and_a_granted_key_passes() {
    let emulator = Emulator::start();
    let spec = json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "cmk-no-grant", "setup": "cmk-no-grant"},
            {"name": "cmk-decrypt-only", "setup": "cmk-decrypt-only"},
            {"name": "cmk-disabled", "setup": "cmk-disabled"},
            {"name": "cmk-pending-deletion", "setup": "cmk-pending-deletion"},
            {"name": "cmk-by-key-arn", "setup": "compliant-cmk-by-key-arn"},
            {"name": "cmk-by-alias", "setup": "compliant-cmk-by-alias"},
            {"name": "aws-managed-key", "setup": "topic-aws-managed-key"},
        ],
    });
    let (org, found, dir) = scan(&emulator, spec, |org| json!([counter(org.id("cmk-by-alias"), "kms", "GetKeyPolicy")])).await;
    expect(
        &found,
        &org,
        &[
            ("cmk-no-grant", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
            ("cmk-decrypt-only", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
            ("cmk-disabled", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
            ("cmk-pending-deletion", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
            ("cmk-by-key-arn", "PASS", "COMPLIANT"),
            ("cmk-by-alias", "PASS", "COMPLIANT"),
            ("aws-managed-key", "FAIL", "SNS_TOPIC_UNPUBLISHABLE"),
        ],
    );
    let (message, evidence) = finding(&emulator, &dir, org.id("cmk-no-grant"));
    assert!(message.contains("kms:") && message.contains("cloudwatch.amazonaws.com"), "{message}");
    assert_eq!(link(&evidence, "key-policy")["attributes"]["decision"], "not-allowed");
    let (message, _) = finding(&emulator, &dir, org.id("cmk-decrypt-only"));
    assert!(message.contains("kms:GenerateDataKey"), "names the action not granted: {message}");
    let (message, evidence) = finding(&emulator, &dir, org.id("cmk-disabled"));
    assert!(message.contains("Disabled"), "{message}");
    assert_eq!(link(&evidence, "kms-key")["attributes"]["state"], "Disabled");
    let (message, _) = finding(&emulator, &dir, org.id("cmk-pending-deletion"));
    assert!(message.contains("pending deletion"), "{message}");
    let (_, evidence) = finding(&emulator, &dir, org.id("cmk-by-alias"));
    assert_eq!(link(&evidence, "kms-key")["attributes"]["manager"], "CUSTOMER");
    assert_eq!(emulator.fired(org.id("cmk-by-alias"), "GetKeyPolicy"), 1, "the key's policy, read once in the key's own account");
}

#[tokio::test]
async fn a_latest_notification_that_failed_fails_the_chain_and_a_later_success_or_a_failure_elsewhere_does_not() {
    let emulator = Emulator::start();
    let spec = json!({
        "management": {"setup": "compliant"},
        "accounts": [
            {"name": "alarm-action-failed", "setup": "alarm-action-failed"},
            {"name": "recovered", "setup": "compliant-action-recovered"},
            {"name": "other-topic-failed", "setup": "compliant-other-topic-failed"},
        ],
    });
    let (org, found, dir) = scan(&emulator, spec, |org| json!([counter(org.id("recovered"), "monitoring", "DescribeAlarmHistory")])).await;
    expect(
        &found,
        &org,
        &[("alarm-action-failed", "FAIL", "ALARM_ACTION_FAILED"), ("recovered", "PASS", "COMPLIANT"), ("other-topic-failed", "PASS", "COMPLIANT")],
    );
    let (message, evidence) = finding(&emulator, &dir, org.id("alarm-action-failed"));
    assert!(message.contains("failed at") && message.contains("does not have authorization"), "gives the error and when: {message}");
    let history = link(&evidence, "alarm-history");
    assert_eq!(history["attributes"]["action_state"], "Failed");
    assert_eq!(emulator.fired(org.id("recovered"), "DescribeAlarmHistory"), 1, "one history read for the account's one alarm");
}
