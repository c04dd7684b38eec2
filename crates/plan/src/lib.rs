//! `orgwatch plan-check`: judges the CIS monitoring chain a Terraform plan builds, before it is
//! deployed, with the same core that judges a scan.
//!
//! The plan (the JSON of `terraform show -json PLANFILE`, see [`terraform`]) is turned into a
//! pure answerer of the core's requests ([`answer::PlanFacts`]), and the core is driven exactly
//! as a scan drives it: `Audit::step` names the reads it needs, each is answered from the plan,
//! until `Step::Done`. So the verdicts and reason codes are the scan's. What the plan does not
//! show is `ERROR / NOT_IN_PLAN`, never a pass.
//!
//! One addition to the scan's walk: a plan without an `aws_cloudtrail` (the trail lives in
//! another stack, as in most organizations) is judged twice over. The chain from the log groups
//! of the plan's metric filters on is judged as if a trail outside the plan delivered to them;
//! a failure there is the plan's failure (`FAIL` with its reason, whatever the trail is), and a
//! chain that holds is still `ERROR / NOT_IN_PLAN`, since the trail was not seen.
//!
//! No I/O: the caller reads the file and prints the [`Report`].
#![forbid(unsafe_code)]

pub mod answer;
pub mod sarif;
pub mod terraform;

use answer::PlanFacts;
use orgwatch_core::detect::DetectionCache;
use orgwatch_core::facts::LogGroupRef;
use orgwatch_core::{Audit, Control, Facts, Finding, LinkKind, Reason, Scope, Status, Step, Unobserved, UnobservedKind};
use serde_json::{Value, json};
pub use terraform::{Plan, PlanError};

/// Most rounds of requests; the chain has six links, so this only stops a loop.
const MAX_ROUNDS: usize = 32;

/// One control's verdict on the plan.
#[derive(Clone, Debug)]
pub struct Checked {
    pub finding: Finding,
    /// The plan addresses where the chain breaks (none for a pass).
    pub at: Vec<String>,
    /// The plan address of each evidence link, where the plan has it.
    pub chain: Vec<Option<String>>,
}

/// What plan-check found.
#[derive(Clone, Debug)]
pub struct Report {
    /// One per control, in the order asked.
    pub checked: Vec<Checked>,
    /// What the plan could not show, each once.
    pub not_in_plan: Vec<String>,
    /// Chain resources the plan deletes.
    pub deleted: Vec<String>,
}

impl Report {
    /// Every control's chain holds.
    pub fn holds(&self) -> bool {
        self.checked.iter().all(|c| c.finding.status == Status::Pass)
    }

    /// The report as JSON, for `--format json`.
    pub fn to_json(&self) -> Value {
        let findings: Vec<Value> = self
            .checked
            .iter()
            .map(|c| {
                let f = &c.finding;
                let chain: Vec<Value> = f
                    .evidence
                    .links
                    .iter()
                    .zip(&c.chain)
                    .map(|(link, address)| json!({"kind": link.kind, "id": link.id, "address": address, "detail": link.detail}))
                    .collect();
                json!({"control_id": f.control_id, "status": f.status, "reason": f.reason, "message": f.message, "at": c.at, "chain": chain, "notes": f.evidence.notes})
            })
            .collect();
        json!({"holds": self.holds(), "findings": findings, "not_in_plan": self.not_in_plan, "deleted": self.deleted})
    }
}

/// What a plan is judged with besides itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// The organization the plan deploys into (`o-…`), for a policy that names
    /// `aws:SourceOrgID`; without it such a policy is `ERROR / POLICY_UNDECIDABLE`.
    pub organization_id: Option<&'a str>,
}

/// Reads a plan and judges `controls` on it.
pub fn check(text: &str, controls: &[&Control]) -> Result<Report, PlanError> {
    check_with(text, controls, &Options::default())
}

/// Reads a plan and judges `controls` on it, with `options`.
pub fn check_with(text: &str, controls: &[&Control], options: &Options<'_>) -> Result<Report, PlanError> {
    let plan = Plan::parse(text)?;
    let facts = PlanFacts::new(&plan);
    let chain_types = [
        "aws_cloudtrail",
        "aws_cloudwatch_log_group",
        "aws_cloudwatch_log_metric_filter",
        "aws_cloudwatch_metric_alarm",
        "aws_sns_topic",
        "aws_sns_topic_policy",
        "aws_sns_topic_subscription",
        "aws_kms_key",
        "aws_kms_key_policy",
        "aws_kms_alias",
    ];
    let deleted = plan.deleted.iter().filter(|a| chain_types.iter().any(|t| a.split('.').any(|part| part == *t))).cloned().collect();
    Ok(judge(&facts, controls, deleted, options))
}

/// Whether `id` is written as AWS writes an organization's id: `o-` and 10 to 32 lowercase
/// letters or digits.
pub fn is_organization_id(id: &str) -> bool {
    id.strip_prefix("o-").is_some_and(|rest| (10..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn judge(facts: &PlanFacts, controls: &[&Control], deleted: Vec<String>, options: &Options<'_>) -> Report {
    let assume_trail = !facts.has_trails();
    let (findings, mut not_in_plan) = drive(facts, controls, assume_trail, options);
    if assume_trail {
        let trails = "the plan manages no aws_cloudtrail, and a trail outside it cannot be seen".to_owned();
        if !not_in_plan.contains(&trails) {
            not_in_plan.insert(0, trails);
        }
    }
    let checked = findings.into_iter().map(|f| locate(facts, settle(facts, f, assume_trail))).collect();
    Report { checked, not_in_plan, deleted }
}

/// Drives the core to its findings as the scan does, answering from the plan.
fn drive(facts: &PlanFacts, controls: &[&Control], assume_trail: bool, options: &Options<'_>) -> (Vec<Finding>, Vec<String>) {
    let members = facts.accounts();
    let detections = DetectionCache::new();
    let scope = Scope { region: &facts.region, members: &members, members_complete: true, organization_id: options.organization_id };
    let audit = Audit { account_id: &facts.account, controls, scope, waivers: &[], now: chrono::DateTime::UNIX_EPOCH, detections: &detections, advice: orgwatch_core::evaluate::AdviceMode::Off };
    let mut known = Facts::new();
    let mut not_in_plan = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let needs = match audit.step(&known) {
            Step::Done(findings) => return (findings, not_in_plan),
            Step::Need(needs) => needs,
        };
        if let Some(repeat) = needs.iter().find(|n| known.get(&n.request).is_some()) {
            let stuck = Unobserved::api_error(repeat.request.operation(), "asked for again after it was answered");
            return (audit.conclude(&known, &stuck), not_in_plan);
        }
        for need in needs {
            let answer = facts.answer(&need.request, assume_trail);
            if let Err(unseen) = &answer
                && unseen.kind == UnobservedKind::NotInPlan
                && !not_in_plan.contains(&unseen.message)
            {
                not_in_plan.push(unseen.message.clone());
            }
            known.insert(need.request, answer);
        }
    }
    let stuck = Unobserved::api_error("plan-check", format!("no verdict after {MAX_ROUNDS} rounds of requests"));
    (audit.conclude(&known, &stuck), not_in_plan)
}

/// A finding judged with a trail taken to exist outside the plan never passes; and the notes
/// of the plan's resources on the chain join the finding.
fn settle(facts: &PlanFacts, mut finding: Finding, assume_trail: bool) -> Finding {
    let holds = finding.status == Status::Pass;
    let assumed = finding.evidence.links.iter().position(|l| l.kind == LinkKind::Trail && facts.is_assumed_trail(&l.id));
    if let (true, Some(i)) = (assume_trail, assumed) {
        finding.evidence.links.remove(i);
        let group = finding.evidence.links.iter().find(|l| l.kind == LinkKind::LogGroup).and_then(|l| LogGroupRef::from_arn(&l.id)).map(|g| g.name).unwrap_or_default();
        if finding.status == Status::Pass {
            finding.reason = Reason::NotInPlan;
            finding.status = Reason::NotInPlan.status();
            finding.message = format!(
                "The plan manages no aws_cloudtrail, so whether a logging multi-region trail delivers to log group {group} cannot be seen. The rest of the chain holds: {}",
                finding.message
            );
        } else {
            finding.evidence.notes.push(format!("the plan manages no aws_cloudtrail: the chain was judged from log group {group} on, as if a trail outside the plan delivered to it"));
        }
    }
    let mut notes: Vec<String> = finding.evidence.links.iter().flat_map(|l| facts.notes_of(&l.id).iter().cloned()).collect();
    if holds {
        notes.extend(facts.notes_on_pass(&finding.evidence.links));
    }
    if finding.reason == Reason::NoAlarmOnMetric {
        let metric = finding.evidence.links.iter().rev().find(|l| l.kind == LinkKind::Metric).and_then(|l| l.id.split_once('/'));
        notes.extend(metric.map(|(namespace, name)| facts.near_misses(namespace, name)).unwrap_or_default());
    }
    for note in notes {
        if !finding.evidence.notes.contains(&note) {
            finding.evidence.notes.push(note);
        }
    }
    finding
}

/// Where in the plan a finding points: the link the chain broke at.
fn locate(facts: &PlanFacts, finding: Finding) -> Checked {
    let chain: Vec<Option<String>> = finding.evidence.links.iter().map(|l| facts.address_of_link(l).map(str::to_owned)).collect();
    let mut at: Vec<String> = match finding.reason {
        Reason::Compliant => Vec::new(),
        Reason::NoMultiRegionTrail => chain.iter().flatten().cloned().collect(),
        Reason::NoMatchingMetricFilter => {
            let group = finding.evidence.links.iter().rev().find(|l| l.kind == LinkKind::LogGroup).and_then(|l| LogGroupRef::from_arn(&l.id));
            group.map(|g| facts.filters_on(&g.name).into_iter().map(str::to_owned).collect()).unwrap_or_default()
        }
        // A topic left with SNS's default policy: the topic is where a policy goes.
        _ => match finding.evidence.links.last() {
            Some(link) if link.kind == LinkKind::TopicPolicy => facts.address_of_link(link).or_else(|| facts.address_of(&link.id)).map(str::to_owned).into_iter().collect(),
            _ => Vec::new(),
        },
    };
    if at.is_empty() && finding.status != Status::Pass {
        at.extend(chain.iter().rev().flatten().next().cloned());
    }
    Checked { finding, at, chain }
}

#[cfg(test)]
mod tests;
