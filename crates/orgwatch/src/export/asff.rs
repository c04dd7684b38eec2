//! The AWS Security Finding Format, as Security Hub's BatchImportFindings takes it.
//!
//! Each finding is the audited account's own (`AwsAccountId`), under that account's default
//! product (`arn:aws:securityhub:<region>:<account>:product/<account>/default`): Security Hub
//! accepts such a finding only from the account it names, so an organization's findings are
//! imported account by account (docs/FORMATS.md). The `Id` is the same for an (account, control)
//! in every scan, so a re-import updates the finding instead of adding one.

use super::{Activity, Context, Item, Resource, Severity, clip, kind_name, remediation, resources, rfc3339, security_hub_url, without_nulls};
use orgwatch_core::{LinkKind, Status};
use serde_json::{Map, Value, json};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// The type Security Hub gives CIS findings (namespace/category/classifier).
pub const FINDING_TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark";
/// Security Hub's limits (characters, items).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const RECOMMENDATION_MAX: usize = 512;
const RESOURCES_MAX: usize = 32;
const PRODUCT_FIELD_MAX: usize = 2048;
const DETAIL_MAX: usize = 1024;

/// `Compliance.Status`: PASS → PASSED, FAIL → FAILED, ERROR → WARNING (the check ran but could
/// not see a link), NOT_APPLICABLE → NOT_AVAILABLE; an account that left → NOT_AVAILABLE.
pub fn compliance_status(status: Option<Status>) -> &'static str {
    match status {
        Some(Status::Pass) => "PASSED",
        Some(Status::Fail) => "FAILED",
        Some(Status::Error) => "WARNING",
        Some(Status::NotApplicable) | None => "NOT_AVAILABLE",
    }
}

pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
    }
}

/// Security Hub's resource type of a link; `Other` where ASFF has none.
pub fn resource_type(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Account | LinkKind::Waiver => "AwsAccount",
        LinkKind::Trail => "AwsCloudTrailTrail",
        LinkKind::Alarm | LinkKind::CompositeAlarm => "AwsCloudWatchAlarm",
        // The delivery record is the topic's own.
        LinkKind::Topic | LinkKind::TopicDelivery => "AwsSnsTopic",
        LinkKind::KmsKey => "AwsKmsKey",
        LinkKind::LogGroup | LinkKind::MetricFilter | LinkKind::Metric | LinkKind::Subscription | LinkKind::TopicPolicy | LinkKind::KeyPolicy | LinkKind::AlarmHistory => "Other",
    }
}

/// The default product of an account: where its own findings go.
pub fn product_arn(region: &str, account_id: &str) -> String {
    format!("arn:aws:securityhub:{region}:{account_id}:product/{account_id}/default")
}

fn resource(r: &Resource) -> Value {
    let id = match r.kind {
        LinkKind::Account | LinkKind::Waiver => format!("AWS::::Account:{}", r.id),
        _ => r.id.clone(),
    };
    let mut other = Map::new();
    other.insert("orgwatch/Kind".into(), kind_name(r.kind).into());
    other.insert("orgwatch/AccountId".into(), r.owner_account.clone().into());
    if let Some(detail) = &r.detail {
        other.insert("orgwatch/Detail".into(), clip(detail, DETAIL_MAX).into());
    }
    json!({"Type": resource_type(r.kind), "Id": id, "Partition": r.partition, "Region": r.region, "Details": {"Other": other}})
}

/// One finding in ASFF.
pub fn finding(item: &Item, context: &Context) -> Value {
    let references = item.control.map(|c| c.references);
    let reason = item.reason.map(|r| r.as_str());
    let all_resources = resources(item, context);
    let mut product_fields = Map::new();
    let mut field = |key: &str, value: String| {
        product_fields.insert(format!("orgwatch/{key}"), Value::String(clip(&value, PRODUCT_FIELD_MAX)));
    };
    field("ControlId", item.control_id.clone());
    field("Status", item.status.map_or("-", Status::as_str).to_owned());
    field("Reason", reason.unwrap_or("-").to_owned());
    field("ScanId", item.scan_id.to_string());
    field("ChainsExamined", item.evidence.chains_examined.to_string());
    if let Some(r) = references {
        field("References", r.summary());
        if let Some(hub) = r.security_hub {
            field("SecurityHubControlId", hub.to_owned());
        }
    }
    if !item.evidence.notes.is_empty() {
        field("Notes", item.evidence.notes.join(" | "));
    }
    if all_resources.len() > RESOURCES_MAX {
        field("ResourcesOmitted", (all_resources.len() - RESOURCES_MAX).to_string());
    }
    if let Some(change) = &item.change {
        field("Change", change.change.clone());
        field("PreviousStatus", change.previous_status.map_or("-", Status::as_str).to_owned());
        field("PreviousReason", change.previous_reason.map_or("-", |r| r.as_str()).to_owned());
    }
    let remediation = item.reason.and_then(remediation).map(|text| {
        json!({"Recommendation": {"Text": clip(text, RECOMMENDATION_MAX), "Url": item.control.and_then(security_hub_url)}})
    });
    let status_reasons = reason.map(|code| vec![json!({"ReasonCode": code, "Description": clip(&item.message, DESCRIPTION_MAX)})]);
    let value = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": item.finding_uid(),
        "ProductArn": product_arn(&context.region, &item.account_id),
        "ProductName": "orgwatch",
        "CompanyName": "orgwatch",
        "GeneratorId": format!("orgwatch/{}", item.control_id),
        "AwsAccountId": item.account_id,
        "AwsAccountName": item.account_name,
        "Region": context.region,
        "Types": [FINDING_TYPE],
        "FirstObservedAt": rfc3339(item.first_observed_at),
        "LastObservedAt": rfc3339(item.observed_at),
        "CreatedAt": rfc3339(item.first_observed_at),
        "UpdatedAt": rfc3339(item.observed_at),
        "Severity": {"Label": severity_label(super::severity(item.status)), "Original": item.status.map_or("-", Status::as_str)},
        "Title": clip(&item.title(), TITLE_MAX),
        "Description": clip(&item.message, DESCRIPTION_MAX),
        "Remediation": remediation,
        "ProductFields": product_fields,
        "Resources": all_resources.iter().take(RESOURCES_MAX).map(resource).collect::<Vec<_>>(),
        "Compliance": {
            "Status": compliance_status(item.status),
            "RelatedRequirements": references.map(|r| r.cis_requirements()),
            "StatusReasons": status_reasons,
        },
        "RecordState": if item.activity == Activity::Close { "ARCHIVED" } else { "ACTIVE" },
    });
    without_nulls(value)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{context, stored};
    use super::*;
    use orgwatch_core::{EvidenceLink, Reason};

    #[test]
    fn a_finding_is_what_batch_import_findings_takes() {
        let item = Item::from_finding(&stored(Reason::NoConfirmedSubscription, 1, 2));
        let v = finding(&item, &context());
        assert_eq!(v["SchemaVersion"], "2018-10-08");
        assert_eq!(v["Id"], "orgwatch/111122223333/unauthorized-api-calls");
        assert_eq!(v["ProductArn"], "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default");
        assert_eq!(v["GeneratorId"], "orgwatch/unauthorized-api-calls");
        assert_eq!((v["AwsAccountId"].as_str(), v["AwsAccountName"].as_str()), (Some("111122223333"), Some("payments")));
        assert_eq!(v["Types"][0], FINDING_TYPE);
        assert_eq!((v["CreatedAt"].as_str(), v["UpdatedAt"].as_str()), (Some("2026-11-21T01:00:00.000Z"), Some("2026-11-21T02:00:00.000Z")));
        assert_eq!(v["Severity"]["Label"], "MEDIUM");
        assert_eq!(v["Title"], "Unauthorized API calls are monitored");
        assert_eq!(v["Compliance"]["Status"], "FAILED");
        assert_eq!(v["Compliance"]["RelatedRequirements"][0], "CIS AWS Foundations Benchmark v1.2.0/3.1");
        assert_eq!(v["Compliance"]["StatusReasons"][0]["ReasonCode"], "NO_CONFIRMED_SUBSCRIPTION");
        assert_eq!(v["ProductFields"]["orgwatch/SecurityHubControlId"], "CloudWatch.2");
        assert_eq!(v["ProductFields"]["orgwatch/References"], "CIS v1.2 3.1, CIS v1.4–v5.0 4.1, CIS v6.0–v7.0 5.1, Security Hub CloudWatch.2");
        assert_eq!(v["RecordState"], "ACTIVE");
        let resources = v["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), 7, "one resource per evidence link");
        assert_eq!((resources[0]["Type"].as_str(), resources[0]["Id"].as_str()), (Some("AwsAccount"), Some("AWS::::Account:111122223333")));
        assert_eq!((resources[1]["Type"].as_str(), resources[1]["Region"].as_str()), (Some("AwsCloudTrailTrail"), Some("eu-west-1")));
        assert_eq!(resources[1]["Details"]["Other"]["orgwatch/AccountId"], "999988887777");
        assert_eq!(resources[3]["Type"], "Other");
        assert_eq!(v["Remediation"]["Recommendation"]["Url"], "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-2");
        assert!(!v.to_string().contains("null"), "no null members: {v}");
    }

    #[test]
    fn statuses_map_to_compliance_statuses() {
        assert_eq!(compliance_status(Some(Status::Pass)), "PASSED");
        assert_eq!(compliance_status(Some(Status::Fail)), "FAILED");
        assert_eq!(compliance_status(Some(Status::Error)), "WARNING");
        assert_eq!(compliance_status(Some(Status::NotApplicable)), "NOT_AVAILABLE");
        assert_eq!(compliance_status(None), "NOT_AVAILABLE");
        let passing = finding(&Item::from_finding(&stored(Reason::Compliant, 1, 1)), &context());
        assert_eq!((passing["Severity"]["Label"].as_str(), passing.get("Remediation")), (Some("INFORMATIONAL"), None));
    }

    #[test]
    fn limits_are_kept() {
        let mut stored = stored(Reason::NoConfirmedSubscription, 1, 2);
        stored.finding.message = "x".repeat(5000);
        for i in 0..40 {
            stored.finding.evidence.links.push(EvidenceLink::new(LinkKind::Alarm, format!("arn:aws:cloudwatch:us-east-1:111122223333:alarm:a{i}")));
        }
        let v = finding(&Item::from_finding(&stored), &context());
        assert_eq!(v["Description"].as_str().unwrap().chars().count(), 1024);
        assert_eq!(v["Resources"].as_array().unwrap().len(), 32);
        assert_eq!(v["ProductFields"]["orgwatch/ResourcesOmitted"], "15");
    }
}
