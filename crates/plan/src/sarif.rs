//! SARIF 2.1.0 for code-scanning UIs: one rule per reason code that is not a pass, one result
//! per control whose chain does not hold, located at the plan resource where it breaks (a
//! logical location named by its Terraform address, and the line and column of that address
//! in the plan file).

use crate::Report;
use orgwatch_core::{Reason, Status};
use serde_json::{Value, json};

const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// What each reason means, for a rule's description.
fn describe(reason: Reason) -> &'static str {
    match reason {
        Reason::Compliant => "The chain holds.",
        Reason::NoMultiRegionTrail => "No multi-region CloudTrail trail.",
        Reason::TrailNotLogging => "The trail is not logging.",
        Reason::ManagementEventsNotCaptured => "The trail does not capture all management events (read and write).",
        Reason::TrailNotSendingToCloudwatch => "The trail does not deliver to a CloudWatch Logs group.",
        Reason::CloudwatchDeliveryFailing => "The trail cannot deliver to its CloudWatch Logs group.",
        Reason::NoMatchingMetricFilter => "No metric filter on the trail's log group detects the control's events.",
        Reason::MetricFilterNeverCounts => "The metric filter publishes no positive count for a match.",
        Reason::NoAlarmOnMetric => "No alarm watches the metric filter's metric.",
        Reason::AlarmActionsDisabled => "The alarm's actions are disabled.",
        Reason::AlarmCannotFire => "The alarm cannot reach ALARM when the events occur (operator, statistic, threshold or dimensions).",
        Reason::NoAlarmNotification => "The alarm notifies no SNS topic.",
        Reason::SnsTopicNotFound => "The alarm's SNS topic does not exist.",
        Reason::NoConfirmedSubscription => "The SNS topic has no confirmed subscription.",
        Reason::SnsTopicUnpublishable => "The SNS topic is encrypted with a key CloudWatch cannot use: AWS-managed, missing, not enabled, or its key policy does not let cloudwatch.amazonaws.com use it.",
        Reason::SnsTopicPolicyDeniesPublish => "The SNS topic's access policy does not let CloudWatch publish for the alarm.",
        Reason::AlarmActionFailed => "CloudWatch recorded that the alarm's latest notification to the topic failed.",
        Reason::SubscriberDeliveryFailing => "SNS recorded that every delivery of the topic's notifications to its subscribers failed, and none was delivered.",
        Reason::PolicyUndecidable => "A topic or key policy uses an operator, condition key or variable orgwatch does not judge.",
        Reason::MetricMathUndecidable => "A metric-math alarm's expression or statistic is one orgwatch does not judge.",
        Reason::AlarmRuleUndecidable => "A composite alarm's rule over the alarm could not be decided.",
        Reason::MetricFilterUnjudged => "The metric filter counts through a transformer, field selection criteria or system dimensions orgwatch does not judge.",
        Reason::RoleAssumptionFailed => "The audit role could not be assumed.",
        Reason::AccessDenied => "A read was denied.",
        Reason::ApiError => "A read failed.",
        Reason::OutsideOrganization => "A link is owned outside the organization.",
        Reason::NotInPlan => "A link of the chain is not in the plan, so it cannot be judged.",
        Reason::Waived => "Waived by configuration.",
    }
}

/// `NO_ALARM_ON_METRIC` → `NoAlarmOnMetric`.
fn rule_name(code: &str) -> String {
    code.split('_').map(|w| w.chars().take(1).chain(w.chars().skip(1).flat_map(char::to_lowercase)).collect::<String>()).collect()
}

fn level(status: Status) -> &'static str {
    if status == Status::Fail { "error" } else { "warning" }
}

/// The reasons rules are made for: those a chain that does not hold can have.
fn rules() -> Vec<Reason> {
    Reason::ALL.iter().copied().filter(|r| !matches!(r.status(), Status::Pass | Status::NotApplicable)).collect()
}

/// Line and column (1-based) of the first `"address"` string in the plan's text.
fn position(plan_text: &str, address: &str) -> Option<(usize, usize)> {
    let needle = serde_json::to_string(address).ok()?;
    let offset = plan_text.find(&needle)?;
    let before = &plan_text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    Some((line, column))
}

/// The SARIF log of a report. `artifact_uri` names the plan file as the user gave it;
/// `plan_text` is its content, to place each result at its resource's address.
pub fn render(report: &Report, artifact_uri: &str, plan_text: &str, tool_version: &str) -> Value {
    let rules = rules();
    let rule_values: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.as_str(),
                "name": rule_name(r.as_str()),
                "shortDescription": {"text": describe(*r)},
                "defaultConfiguration": {"level": level(r.status())},
                "properties": {"tags": ["security", "cis-aws-foundations", "terraform"]},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .checked
        .iter()
        .filter(|c| c.finding.status != Status::Pass)
        .map(|c| {
            let f = &c.finding;
            let location = |address: Option<&str>| {
                let mut physical = json!({"artifactLocation": {"uri": artifact_uri}});
                if let Some((line, column)) = address.and_then(|a| position(plan_text, a)) {
                    physical["region"] = json!({"startLine": line, "startColumn": column});
                }
                let mut location = json!({"physicalLocation": physical});
                if let Some(address) = address {
                    location["logicalLocations"] = json!([{"fullyQualifiedName": address, "kind": "resource"}]);
                }
                location
            };
            let locations: Vec<Value> = if c.at.is_empty() { vec![location(None)] } else { c.at.iter().map(|a| location(Some(a))).collect() };
            let mut related = Vec::new();
            for (link, address) in f.evidence.links.iter().zip(&c.chain) {
                if let Some(address) = address.as_deref().filter(|a| !c.at.iter().any(|at| at == a)) {
                    let mut l = location(Some(address));
                    l["id"] = json!(related.len());
                    l["message"] = json!({"text": format!("{} {}", serde_json::to_value(link.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), link.id)});
                    related.push(l);
                }
            }
            let mut text = f.message.clone();
            for note in &f.evidence.notes {
                text.push_str(&format!(" Note: {note}."));
            }
            let mut result = json!({
                "ruleId": f.reason.as_str(),
                "ruleIndex": rules.iter().position(|r| *r == f.reason).unwrap_or(0),
                "level": level(f.status),
                "message": {"text": text},
                "locations": locations,
                "properties": {"control": f.control_id, "status": f.status},
            });
            if !related.is_empty() {
                result["relatedLocations"] = Value::Array(related);
            }
            result
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "orgwatch", "version": tool_version, "rules": rule_values}},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_and_positions() {
        assert_eq!(rule_name("NO_ALARM_ON_METRIC"), "NoAlarmOnMetric");
        let text = "{\n  \"address\": \"aws_sns_topic.alerts_b\",\n    \"address\": \"aws_sns_topic.alerts\"\n}";
        assert_eq!(position(text, "aws_sns_topic.alerts"), Some((3, 16)));
        assert_eq!(position(text, "aws_sns_topic.nope"), None);
        assert!(rules().contains(&Reason::NotInPlan) && !rules().contains(&Reason::Compliant) && !rules().contains(&Reason::Waived));
    }
}
