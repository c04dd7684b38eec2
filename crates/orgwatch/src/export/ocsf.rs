//! OCSF Compliance Finding (class 2003, category Findings), version 1.3.0 with the `cloud` and
//! `datetime` profiles: the first version whose Compliance Finding has `resources`, so one
//! resource per evidence link fits; consumers of later 1.x versions read it too (the tests
//! validate it against the 1.3.0 and the 1.8.0 schemas).

use super::{Activity, Context, Item, Resource, Severity, clip, kind_name, remediation, resources, rfc3339, security_hub_url, without_nulls};
use orgwatch_core::{LinkKind, Status};
use serde_json::{Value, json};

pub const VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2003;
pub const CATEGORY_UID: u32 = 2;
/// `finding_info.types`: the same category Security Hub gives CIS findings.
pub const FINDING_TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark";
const AWS_ACCOUNT_TYPE_ID: u32 = 10;

/// `compliance.status_id` and `status`: PASS → Pass, FAIL → Fail, ERROR → Warning (a link could
/// not be seen: the verdict is withheld, as Security Hub's WARNING), NOT_APPLICABLE → Other
/// ("Not Applicable"), an account that left → Unknown.
pub fn compliance_status(status: Option<Status>) -> (u32, &'static str) {
    match status {
        Some(Status::Pass) => (1, "Pass"),
        Some(Status::Fail) => (3, "Fail"),
        Some(Status::Error) => (2, "Warning"),
        Some(Status::NotApplicable) => (99, "Not Applicable"),
        None => (0, "Unknown"),
    }
}

/// The finding's own `status_id` and `status`: what is to be done with it. A failure or an
/// unseen link is New, a pass Resolved, a waiver Suppressed, a departed account Archived.
pub fn finding_status(status: Option<Status>) -> (u32, &'static str) {
    match status {
        Some(Status::Fail | Status::Error) => (1, "New"),
        Some(Status::Pass) => (4, "Resolved"),
        Some(Status::NotApplicable) => (3, "Suppressed"),
        None => (5, "Archived"),
    }
}

pub fn severity_id(severity: Severity) -> (u32, &'static str) {
    match severity {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
    }
}

pub fn activity_id(activity: Activity) -> (u32, &'static str) {
    match activity {
        Activity::Create => (1, "Create"),
        Activity::Update => (2, "Update"),
        Activity::Close => (3, "Close"),
    }
}

/// CloudFormation's name of the resource type of a link.
pub fn resource_type(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Account | LinkKind::Waiver => "AWS::::Account",
        LinkKind::Trail => "AWS::CloudTrail::Trail",
        LinkKind::LogGroup => "AWS::Logs::LogGroup",
        LinkKind::MetricFilter => "AWS::Logs::MetricFilter",
        LinkKind::Metric => "AWS::CloudWatch::Metric",
        LinkKind::Alarm => "AWS::CloudWatch::Alarm",
        LinkKind::CompositeAlarm => "AWS::CloudWatch::CompositeAlarm",
        // The delivery record is the topic's own.
        LinkKind::Topic | LinkKind::TopicDelivery => "AWS::SNS::Topic",
        LinkKind::Subscription => "AWS::SNS::Subscription",
        LinkKind::TopicPolicy => "AWS::SNS::TopicPolicy",
        // A key policy is a property of its key, and an alarm's history of its alarm.
        LinkKind::KmsKey | LinkKind::KeyPolicy => "AWS::KMS::Key",
        LinkKind::AlarmHistory => "AWS::CloudWatch::Alarm",
    }
}

fn account(uid: &str, name: Option<&str>) -> Value {
    json!({"uid": uid, "name": name, "type": "AWS Account", "type_id": AWS_ACCOUNT_TYPE_ID})
}

fn resource(r: &Resource) -> Value {
    json!({
        "uid": r.id,
        "type": resource_type(r.kind),
        "region": r.region,
        "cloud_partition": r.partition,
        "owner": {"account": account(&r.owner_account, None)},
        "data": {"kind": kind_name(r.kind), "detail": r.detail},
    })
}

/// One finding as an OCSF Compliance Finding.
pub fn finding(item: &Item, context: &Context) -> Value {
    let (activity, activity_name) = activity_id(item.activity);
    let (compliance_id, compliance_name) = compliance_status(item.status);
    let (status_id, status_name) = finding_status(item.status);
    let (severity, severity_name) = severity_id(super::severity(item.status));
    let references = item.control.map(|c| c.references);
    let mut requirements = references.map(|r| r.cis_requirements()).unwrap_or_default();
    if let Some(hub) = references.and_then(|r| r.security_hub) {
        requirements.push(format!("AWS Security Hub {hub}"));
    }
    let remediation = item.reason.and_then(remediation).map(|desc| {
        json!({"desc": desc, "references": item.control.and_then(security_hub_url).map(|url| vec![url])})
    });
    let observed = item.observed_at.timestamp_millis();
    let first = item.first_observed_at.timestamp_millis();
    let reason = item.reason.map(|r| r.as_str());
    let value = json!({
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": format!("Compliance Finding: {activity_name}"),
        "time": observed,
        "time_dt": rfc3339(item.observed_at),
        "severity_id": severity,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "status_code": reason,
        "status_detail": clip(&item.message, 4096),
        "message": clip(&item.message, 4096),
        "metadata": {
            "version": VERSION,
            "profiles": ["cloud", "datetime"],
            "uid": item.event_uid(),
            "event_code": item.control_id,
            "product": {"name": "orgwatch", "vendor_name": "orgwatch", "uid": "orgwatch", "version": context.version},
        },
        "cloud": {"provider": "AWS", "region": context.region, "account": account(&item.account_id, item.account_name.as_deref())},
        "finding_info": {
            "uid": item.finding_uid(),
            "title": item.title(),
            "desc": references.map(|r| format!("{}: {}", item.title(), r.summary())),
            "types": [FINDING_TYPE],
            "product_uid": "orgwatch",
            "created_time": first,
            "created_time_dt": rfc3339(item.first_observed_at),
            "first_seen_time": first,
            "first_seen_time_dt": rfc3339(item.first_observed_at),
            "last_seen_time": observed,
            "last_seen_time_dt": rfc3339(item.observed_at),
            "modified_time": observed,
            "modified_time_dt": rfc3339(item.observed_at),
        },
        "compliance": {
            "control": item.control_id,
            "standards": references.map(|r| r.cis_standards()).unwrap_or_default(),
            "requirements": requirements,
            "status_id": compliance_id,
            "status": compliance_name,
            "status_code": item.status.map(Status::as_str),
            "status_detail": reason,
        },
        "resources": resources(item, context).iter().map(resource).collect::<Vec<_>>(),
        "remediation": remediation,
        "unmapped": {
            "orgwatch": {
                "scan_id": item.scan_id,
                "status": item.status.map(Status::as_str),
                "reason": reason,
                "chains_examined": item.evidence.chains_examined,
                "notes": item.evidence.notes,
                "references": references.map(|r| r.summary()),
                "change": item.change.as_ref().map(|c| json!({
                    "change": c.change,
                    "previous_status": c.previous_status.map(Status::as_str),
                    "previous_reason": c.previous_reason.map(|r| r.as_str()),
                })),
            }
        },
    });
    without_nulls(value)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{context, stored};
    use super::*;
    use orgwatch_core::Reason;

    #[test]
    fn a_failing_finding_carries_its_requirements_account_resources_and_reason() {
        let item = Item::from_finding(&stored(Reason::NoConfirmedSubscription, 1, 2));
        let v = finding(&item, &context());
        assert_eq!((v["class_uid"].as_u64(), v["category_uid"].as_u64(), v["type_uid"].as_u64()), (Some(2003), Some(2), Some(200302)));
        assert_eq!(v["activity_name"], "Update");
        assert_eq!(v["compliance"]["requirements"][0], "CIS AWS Foundations Benchmark v1.2.0/3.1");
        let requirements: Vec<&str> = v["compliance"]["requirements"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(requirements.contains(&"CIS AWS Foundations Benchmark v5.0.0/4.1") && requirements.contains(&"CIS AWS Foundations Benchmark v7.0.0/5.1"));
        assert!(requirements.contains(&"AWS Security Hub CloudWatch.2"));
        assert_eq!((v["compliance"]["status_id"].as_u64(), v["compliance"]["status"].as_str()), (Some(3), Some("Fail")));
        assert_eq!(v["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(v["cloud"]["account"]["name"], "payments");
        assert_eq!((v["cloud"]["provider"].as_str(), v["cloud"]["region"].as_str()), (Some("AWS"), Some("us-east-1")));
        assert_eq!(v["status_code"], "NO_CONFIRMED_SUBSCRIPTION");
        assert_eq!(v["message"], "the chain broke: NO_CONFIRMED_SUBSCRIPTION");
        assert_eq!(v["finding_info"]["uid"], "orgwatch/111122223333/unauthorized-api-calls");
        assert_eq!(v["metadata"]["uid"], "orgwatch/111122223333/unauthorized-api-calls/scan/7");
        assert_eq!((v["metadata"]["product"]["name"].as_str(), v["metadata"]["product"]["version"].as_str()), (Some("orgwatch"), Some("9.9.9")));
        assert_eq!(v["time"].as_i64(), Some(item.observed_at.timestamp_millis()));
        assert_eq!(v["severity"], "Medium");
        let resources = v["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 7);
        assert_eq!(resources[6]["type"], "AWS::SNS::Topic");
        assert_eq!(resources[6]["owner"]["account"]["uid"], "444455556666");
        assert_eq!(resources[6]["region"], "us-east-2");
        assert!(v["remediation"]["desc"].as_str().unwrap().contains("Subscribe"));
        assert!(!v.to_string().contains("null"), "no null members: {v}");
    }

    #[test]
    fn statuses_map_to_ocsf() {
        assert_eq!(compliance_status(Some(Status::Pass)), (1, "Pass"));
        assert_eq!(compliance_status(Some(Status::Fail)), (3, "Fail"));
        assert_eq!(compliance_status(Some(Status::Error)), (2, "Warning"));
        assert_eq!(compliance_status(Some(Status::NotApplicable)), (99, "Not Applicable"));
        assert_eq!(compliance_status(None), (0, "Unknown"));
        assert_eq!(finding_status(Some(Status::Pass)), (4, "Resolved"));
        assert_eq!(finding_status(Some(Status::NotApplicable)), (3, "Suppressed"));
        assert_eq!(finding_status(None), (5, "Archived"));
        let passing = finding(&Item::from_finding(&stored(Reason::Compliant, 2, 2)), &context());
        assert_eq!((passing["activity_id"].as_u64(), passing["type_uid"].as_u64()), (Some(1), Some(200301)));
        assert_eq!(passing["severity_id"].as_u64(), Some(1));
        assert!(passing.get("remediation").is_none(), "nothing to do for a pass");
    }
}
