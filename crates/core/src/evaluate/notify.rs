//! The last hops of the chain: whether the alarm's notification can really travel. The topic's
//! access policy must let CloudWatch publish for this alarm, a customer-managed key the topic
//! is encrypted with must be enabled and let CloudWatch use it, and what CloudWatch recorded of
//! the alarm's latest notification to the topic must not be a failure.
//!
//! The policies are judged by [`crate::policy`] for the call CloudWatch makes: principal service
//! `cloudwatch.amazonaws.com`, with the alarm's ARN, account and organization in the request
//! context ([`publish_context`]).

use super::{Link, Look, Notifier, Walk, is_aws_managed_sns_key};
use crate::facts::{AlarmHistoryItem, Key, KeyMetadata, arn_account, arn_region};
use crate::finding::{EvidenceLink, LinkKind, Reason};
use crate::policy::{AccessRequest, Context, Decision, Policy};
use crate::request::{Answer, Request};

/// The service principal alarms publish as.
pub const CLOUDWATCH: &str = "cloudwatch.amazonaws.com";

/// What CloudWatch must be allowed on a topic's key, as the SNS developer guide says.
pub const KEY_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// A topic, where it lives.
#[derive(Clone, Copy)]
pub(super) struct TopicAt<'t> {
    pub arn: &'t str,
    pub owner: &'t str,
    pub region: &'t str,
}

/// The request context of CloudWatch's publish for an alarm of `alarm_account`: the keys it
/// carries, those it certainly does not, and, for `aws:SourceOrgPaths`, the account's path
/// when it was read. Every other key is one orgwatch cannot judge.
pub fn publish_context(alarm_arn: Option<&str>, alarm_account: &str, organization_id: Option<&str>, org_path: Option<&str>) -> Context {
    let context = Context::new()
        .with("aws:SourceAccount", [alarm_account])
        .with("aws:SourceOwner", [alarm_account])
        .with("aws:PrincipalServiceName", [CLOUDWATCH])
        .with("aws:PrincipalIsAWSService", ["true"])
        .with("aws:SecureTransport", ["true"])
        // A service principal belongs to no organization: these are never in its request.
        .absent("aws:PrincipalOrgID")
        .absent("aws:PrincipalOrgPaths");
    let context = match alarm_arn {
        Some(arn) => context.with("aws:SourceArn", [arn]),
        None => context.unknown("aws:SourceArn", "the alarm is not known yet"),
    };
    let context = match organization_id {
        Some(id) => context.with("aws:SourceOrgID", [id]),
        None => context.unknown("aws:SourceOrgID", "the organization's id is not known"),
    };
    match org_path {
        Some(path) => context.with("aws:SourceOrgPaths", [path]),
        None => context.unknown("aws:SourceOrgPaths", "the account's path in the organization was not read"),
    }
}

/// Whether a topic's policy certainly lets CloudWatch publish for any alarm of `account`
/// (whatever its name: a policy that admits only some alarms by `aws:SourceArn` does not).
pub(super) fn admits_any_alarm(policy: Option<&str>, topic_arn: &str, account: &str, organization_id: Option<&str>) -> bool {
    let Some(policy) = policy.and_then(|text| Policy::parse(text).ok()) else { return false };
    let context = publish_context(None, account, organization_id, None);
    matches!(policy.decide(&AccessRequest { service: CLOUDWATCH, action: "sns:Publish", resource: topic_arn, context: &context }), Decision::Allowed { .. })
}

/// How a topic's key is named: the AWS-managed key, or a key to look up, and where.
enum KeyName<'k> {
    AwsManaged,
    /// A key ARN or a bare key id: its policy can be asked for at once.
    Key { account_id: String, region: String, key_id: &'k str },
    /// An alias: DescribeKey says which key it names.
    Alias { account_id: String, region: String, alias: &'k str },
}

fn key_name<'k>(named: &'k str, topic: TopicAt<'_>) -> KeyName<'k> {
    if is_aws_managed_sns_key(named) {
        return KeyName::AwsManaged;
    }
    // An ARN names its account and region; a bare name resolves in the topic's.
    let account_id = arn_account(named).filter(|_| named.starts_with("arn:")).unwrap_or(topic.owner).to_owned();
    let region = arn_region(named).filter(|_| named.starts_with("arn:")).unwrap_or(topic.region).to_owned();
    let resource = if named.starts_with("arn:") { named.splitn(6, ':').nth(5).unwrap_or("") } else { named };
    if resource.starts_with("alias/") {
        KeyName::Alias { account_id, region, alias: named }
    } else {
        KeyName::Key { account_id, region, key_id: named }
    }
}

impl<'f> Walk<'_, 'f> {
    /// After a confirmed subscription: the topic's policy, its key, the alarm's record.
    pub(super) fn publish(&mut self, alarm: Notifier<'_>, alarm_account: &str, topic: TopicAt<'_>, kms_key: Option<&str>, policy: Option<&str>, delivered: String) {
        let who = format!("{} {:?} of account {alarm_account}", alarm.title().to_ascii_lowercase(), alarm.name);
        let Some(text) = policy else {
            return self.end(
                Link::TopicPolicy,
                Reason::SnsTopicPolicyDeniesPublish,
                format!("Topic {} has no access policy, so no statement allows CloudWatch to publish for {who}.", topic.arn),
            );
        };
        let what = format!("topic {}'s access policy", topic.arn);
        let Some(decision) = self.decide(Link::TopicPolicy, &what, text, alarm, alarm_account, &[("sns:Publish", topic.arn)]) else { return };
        let judged = PolicyJudged { policy_of: what, resource: topic.arn, text, link: LinkKind::TopicPolicy };
        let allowed = match decision {
            Decided::Allowed(statements) => statements,
            Decided::Refused { decision, policy, .. } => {
                let mut message = judged.refusal(&policy, &decision, &format!("CloudWatch's publish for {who}"));
                let default_statement = policy.statements().iter().any(|s| s.sid.as_deref() == Some("__default_statement_ID"));
                if matches!(decision, Decision::NotAllowed) && default_statement && alarm_account != topic.owner {
                    message.push_str(&format!(
                        " SNS's default statement admits only alarms of the topic's own account {} (AWS:SourceOwner); admit this account's or the organization's alarms (aws:SourceAccount, aws:SourceOrgID) with Principal {{\"Service\": \"{CLOUDWATCH}\"}}.",
                        topic.owner
                    ));
                }
                let mut link = judged.link(&policy, &decision, topic.owner, topic.region, true);
                // What a fix admits the organization's alarms with (aws:SourceOrgID).
                if let Some(id) = self.audit.scope.organization_id {
                    link = link.with("organization_id", id);
                }
                return self.with(link, |walk| walk.end(Link::TopicPolicy, Reason::SnsTopicPolicyDeniesPublish, message));
            }
            Decided::Undecidable(message, link) => {
                let link = link.in_account(topic.owner).in_region(topic.region);
                return self.with(link, |walk| walk.end(Link::TopicPolicy, Reason::PolicyUndecidable, message));
            }
        };
        let link = judged.allowed_link(&allowed).in_account(topic.owner).in_region(topic.region);
        self.with(link, |walk| match kms_key {
            None => walk.history(alarm, alarm_account, topic, delivered),
            Some(named) => walk.key(alarm, alarm_account, topic, named, delivered),
        });
    }

    /// The topic's KMS key: customer-managed, enabled, and its policy lets CloudWatch use it.
    fn key(&mut self, alarm: Notifier<'_>, alarm_account: &str, topic: TopicAt<'_>, named: &str, delivered: String) {
        let unpublishable = |walk: &mut Self, why: String| {
            walk.end(Link::TopicEncryption, Reason::SnsTopicUnpublishable, format!("Topic {} is encrypted with {why}, so CloudWatch cannot publish alarms to it.", topic.arn))
        };
        let (describe, policy_request) = match key_name(named, topic) {
            KeyName::AwsManaged => return unpublishable(self, format!("the AWS-managed key {named}, whose policy no one can change to admit CloudWatch")),
            KeyName::Key { account_id, region, key_id } => (
                Request::Key { account_id: account_id.clone(), region: region.clone(), key_id: key_id.to_owned() },
                Some(Request::KeyPolicy { account_id, region, key_id: key_id.to_owned() }),
            ),
            KeyName::Alias { account_id, region, alias } => (Request::Key { account_id, region, key_id: alias.to_owned() }, None),
        };
        let metadata = match self.look(Link::TopicEncryption, describe, &format!("key {named} of topic {}", topic.arn), |a| as_variant!(a, Answer::Key)) {
            Look::Ended => return,
            Look::Known(Key::NotFound) => return unpublishable(self, format!("key {named}, which does not exist")),
            Look::Known(Key::Found(metadata)) => Some(metadata),
            // The key's policy does not wait for its description when the topic names the key.
            Look::Pending => None,
        };
        if let Some(metadata) = metadata {
            let why = if metadata.is_aws_managed() {
                Some(format!("the AWS-managed key {} ({named}), whose policy no one can change to admit CloudWatch", metadata.arn))
            } else {
                match metadata.state.as_str() {
                    "Enabled" => None,
                    "PendingDeletion" | "PendingReplicaDeletion" => Some(format!("key {}, which is pending deletion", metadata.arn)),
                    state => Some(format!("key {}, whose state is {state}, not Enabled", metadata.arn)),
                }
            };
            // The key's link ends the evidence: a fix reads its state and manager there.
            if let Some(why) = why {
                return self.with(key_link(metadata, named), |walk| unpublishable(walk, why));
            }
        }
        let link = metadata.map(|m| key_link(m, named));
        let policy_request = match (policy_request, metadata) {
            (Some(request), _) => request,
            (None, Some(metadata)) => Request::KeyPolicy {
                account_id: arn_account(&metadata.arn).unwrap_or(topic.owner).to_owned(),
                region: arn_region(&metadata.arn).unwrap_or(topic.region).to_owned(),
                key_id: metadata.arn.clone(),
            },
            (None, None) => return,
        };
        let key_policy = |walk: &mut Self| {
            let key_arn = metadata.map_or(named, |m| m.arn.as_str());
            let what = format!("the policy of key {key_arn}");
            let text = match walk.look(Link::KeyPolicy, policy_request.clone(), &what, |a| as_variant!(a, Answer::KeyPolicy)) {
                Look::Known(text) => text,
                Look::Pending | Look::Ended => return,
            };
            if metadata.is_none() {
                return; // pending on the key's description
            }
            let owner = policy_request.account_id().to_owned();
            let region = policy_request.region().to_owned();
            let actions: Vec<(&str, &str)> = KEY_ACTIONS.iter().map(|action| (*action, key_arn)).collect();
            let Some(decision) = walk.decide(Link::KeyPolicy, &what, text, alarm, alarm_account, &actions) else { return };
            let judged = PolicyJudged { policy_of: format!("key {key_arn}'s policy"), resource: key_arn, text, link: LinkKind::KeyPolicy };
            match decision {
                Decided::Allowed(statements) => {
                    let link = judged.allowed_link(&statements).in_account(&owner).in_region(&region);
                    walk.with(link, |walk| walk.history(alarm, alarm_account, topic, delivered));
                }
                Decided::Refused { decision, policy, action } => {
                    let mut message = judged.refusal(&policy, &decision, &format!("{action} by {CLOUDWATCH}"));
                    message.push_str(&format!(
                        " CloudWatch needs kms:Decrypt and kms:GenerateDataKey* granted to Principal {{\"Service\": \"{CLOUDWATCH}\"}} in the key policy itself; a service principal gets nothing from the account's IAM policies."
                    ));
                    let link = judged.link(&policy, &decision, &owner, &region, true);
                    walk.with(link, |walk| walk.end(Link::KeyPolicy, Reason::SnsTopicUnpublishable, message));
                }
                Decided::Undecidable(message, link) => {
                    let link = link.in_account(&owner).in_region(&region);
                    walk.with(link, |walk| walk.end(Link::KeyPolicy, Reason::PolicyUndecidable, message));
                }
            }
        };
        match link {
            Some(link) => self.with(link, key_policy),
            None => self.pending(key_policy),
        }
    }

    /// What CloudWatch recorded of the alarm's latest notification to the topic; read only for
    /// a chain that otherwise holds.
    fn history(&mut self, alarm: Notifier<'_>, alarm_account: &str, topic: TopicAt<'_>, delivered: String) {
        let region = arn_region(alarm.arn).unwrap_or(topic.region).to_owned();
        // The newest page of every alarm's history holds the latest notification of most.
        // On the scans that gather advice, with every kind of item: the same page shows the
        // alarms' state changes.
        let every_kind = self.audit.advice.gathers();
        let request = Request::AlarmHistory { account_id: alarm_account.to_owned(), region: region.clone(), alarm_name: None, every_kind };
        let what = format!("the alarm history of account {alarm_account} in {region}");
        let history = match self.look(Link::AlarmHistory, request, &what, |a| as_variant!(a, Answer::AlarmHistory)) {
            Look::Known(history) => history,
            Look::Pending | Look::Ended => return,
        };
        let mut latest = latest_notification(history.items.iter().filter(|i| i.alarm_name == alarm.name), topic.arn);
        if latest.is_none() && !history.complete {
            // Older than that page, or never: the alarm's own history says which.
            let request = Request::AlarmHistory { account_id: alarm_account.to_owned(), region: region.clone(), alarm_name: Some(alarm.name.to_owned()), every_kind: false };
            let what = format!("the history of {} {:?}", alarm.title().to_ascii_lowercase(), alarm.name);
            let own = match self.look(Link::AlarmHistory, request, &what, |a| as_variant!(a, Answer::AlarmHistory)) {
                Look::Known(own) => own,
                Look::Pending | Look::Ended => return,
            };
            latest = latest_notification(own.items.iter().filter(|i| i.alarm_name == alarm.name), topic.arn);
        }
        let Some(latest) = latest else {
            // Never fired, or not to this topic within what CloudWatch keeps: nothing to say.
            return self.advise(alarm, alarm_account, &region, topic, history, delivered);
        };
        let when = latest.item.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let link = EvidenceLink::with_detail(LinkKind::AlarmHistory, alarm.arn, format!("latest notification to the topic {} at {when}", latest.state.to_ascii_lowercase()))
            .in_account(alarm_account)
            .in_region(&region)
            .with("action_state", latest.state.as_str())
            .with("timestamp", when.as_str())
            .with("notification_resource", topic.arn)
            .with("summary", latest.item.summary.as_str())
            .with("error", latest.error.clone().map_or(serde_json::Value::Null, serde_json::Value::from));
        self.with(link, |walk| {
            if latest.state.eq_ignore_ascii_case("Failed") {
                let error = latest.error.as_deref().unwrap_or("CloudWatch recorded no error text");
                return walk.end(
                    Link::AlarmHistory,
                    Reason::AlarmActionFailed,
                    format!("{} {:?}'s latest notification to topic {} failed at {when}, and none has succeeded since: {error}", alarm.title(), alarm.name, topic.arn),
                );
            }
            walk.advise(alarm, alarm_account, &region, topic, history, delivered);
        });
    }

    /// Decides every (action, resource) of CloudWatch's call under a policy; `None` while the
    /// alarm account's path in the organization is being read.
    fn decide(&mut self, reached: Link, what: &str, text: &str, alarm: Notifier<'_>, alarm_account: &str, calls: &[(&str, &str)]) -> Option<Decided> {
        let cached = self.policies.borrow().get(text).cloned();
        let parsed = match cached {
            Some(policy) => Ok(policy),
            None => Policy::parse(text).map(|policy| {
                let policy = std::rc::Rc::new(policy);
                self.policies.borrow_mut().insert(text.to_owned(), policy.clone());
                policy
            }),
        };
        let policy = match parsed {
            Ok(policy) => policy,
            Err(e) => {
                let message = format!("orgwatch cannot read {what}: {e}.");
                let link = EvidenceLink::with_detail(link_kind(reached), calls.first().map_or("", |c| c.1), "unreadable").with("decision", "undecidable").with("policy", text);
                return Some(Decided::Undecidable(message, link));
            }
        };
        let org_path = if policy.names_key("aws:SourceOrgPaths") {
            let request = Request::OrgPath { account_id: alarm_account.to_owned() };
            match self.look(reached, request, &format!("the path of account {alarm_account} in the organization"), |a| as_variant!(a, Answer::OrgPath)) {
                Look::Known(path) => Some(path.as_str()),
                Look::Pending | Look::Ended => return None,
            }
        } else {
            None
        };
        let context = publish_context(Some(alarm.arn), alarm_account, self.audit.scope.organization_id, org_path);
        let decisions: Vec<(&str, Decision)> =
            calls.iter().map(|(action, resource)| (*action, policy.decide(&AccessRequest { service: CLOUDWATCH, action, resource, context: &context }))).collect();
        // A certain refusal of any call decides; else an undecidable one; else all are allowed.
        if let Some((action, decision)) = decisions.iter().find(|(_, d)| matches!(d, Decision::Denied { .. } | Decision::NotAllowed)) {
            return Some(Decided::Refused { decision: decision.clone(), policy, action: (*action).to_owned() });
        }
        if let Some((action, Decision::Undecidable { statement, why })) = decisions.iter().find(|(_, d)| matches!(d, Decision::Undecidable { .. })) {
            let label = policy.statement(*statement).map_or_else(|| format!("statement #{}", statement + 1), |s| s.label());
            let message = format!("orgwatch cannot decide whether {what} allows {action} by {CLOUDWATCH} for alarm {:?}: {label}: {why}.", alarm.name);
            let mut link = EvidenceLink::with_detail(link_kind(reached), calls.first().map_or("", |c| c.1), format!("undecidable: {label}"))
                .with("decision", "undecidable")
                .with("why", why.as_str());
            if let Some(s) = policy.statement(*statement) {
                link = link.with("statement", s.source.clone());
            }
            return Some(Decided::Undecidable(message, link));
        }
        let allowed = decisions.iter().filter_map(|(action, d)| if let Decision::Allowed { by } = d { Some((action.to_string(), *by)) } else { None }).collect();
        Some(Decided::Allowed(AllowedBy { policy, by: allowed }))
    }
}

/// A policy's verdict on CloudWatch's call.
enum Decided {
    Allowed(AllowedBy),
    /// The first call refused, and how.
    Refused { decision: Decision, policy: std::rc::Rc<Policy>, action: String },
    /// The message and the evidence link.
    Undecidable(String, EvidenceLink),
}

/// The statements that allow each action.
struct AllowedBy {
    policy: std::rc::Rc<Policy>,
    by: Vec<(String, usize)>,
}

/// A policy being judged, for its messages and evidence.
struct PolicyJudged<'p> {
    /// "topic …'s access policy", "key …'s policy".
    policy_of: String,
    resource: &'p str,
    text: &'p str,
    link: LinkKind,
}

impl PolicyJudged<'_> {
    fn refusal(&self, policy: &Policy, decision: &Decision, call: &str) -> String {
        match decision {
            Decision::Denied { by } => {
                let label = policy.statement(*by).map_or_else(|| format!("statement #{}", by + 1), |s| s.label());
                format!("{} of {} denies {call}.", capitalize(&label), self.policy_of)
            }
            _ => format!("No statement of {} allows {call}.", self.policy_of),
        }
    }

    /// The evidence of a refusal: what decided it, and (for the fix) the policy as it stands.
    fn link(&self, policy: &Policy, decision: &Decision, owner: &str, region: &str, with_text: bool) -> EvidenceLink {
        let (kind, detail) = match decision {
            Decision::Denied { by } => ("denied", format!("denied by {}", policy.statement(*by).map_or_else(String::new, |s| s.label()))),
            _ => ("not-allowed", "no statement allows CloudWatch".to_owned()),
        };
        let mut link = EvidenceLink::with_detail(self.link, self.resource, detail).in_account(owner).in_region(region).with("decision", kind);
        if let Decision::Denied { by } = decision
            && let Some(statement) = policy.statement(*by)
        {
            link = link.with("statement", statement.source.clone());
        }
        if with_text {
            link = link.with("policy", self.text);
        }
        link
    }

    fn allowed_link(&self, allowed: &AllowedBy) -> EvidenceLink {
        let mut labels: Vec<String> = Vec::new();
        let mut statements = Vec::new();
        for (_, by) in &allowed.by {
            if let Some(statement) = allowed.policy.statement(*by)
                && !labels.contains(&statement.label())
            {
                labels.push(statement.label());
                statements.push(statement.source.clone());
            }
        }
        EvidenceLink::with_detail(self.link, self.resource, format!("allowed by {}", labels.join(", "))).with("decision", "allowed").with("statements", statements)
    }
}

fn link_kind(reached: Link) -> LinkKind {
    if reached == Link::KeyPolicy { LinkKind::KeyPolicy } else { LinkKind::TopicPolicy }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn key_link(metadata: &KeyMetadata, named: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::KmsKey, &metadata.arn, format!("{} key, {}", metadata.manager.to_ascii_lowercase(), metadata.state))
        .in_account(arn_account(&metadata.arn).unwrap_or_default())
        .in_region(arn_region(&metadata.arn).unwrap_or_default())
        .with("named_as", named)
        .with("key_id", metadata.key_id.as_str())
        .with("manager", metadata.manager.as_str())
        .with("state", metadata.state.as_str())
}

/// The latest notification CloudWatch recorded to a topic.
pub(crate) struct Notification<'i> {
    pub item: &'i AlarmHistoryItem,
    /// `actionState`: `Succeeded`, `Failed`, …
    pub state: String,
    pub error: Option<String>,
}

/// The newest `Action` item whose notification went to `topic_arn`. Items whose data cannot be
/// read are passed over; their summary still names the topic when AWS wrote one.
pub(crate) fn latest_notification<'i>(items: impl IntoIterator<Item = &'i AlarmHistoryItem>, topic_arn: &str) -> Option<Notification<'i>> {
    let mut newest: Option<Notification<'i>> = None;
    for item in items.into_iter().filter(|i| i.kind.is_action()) {
        let data: Option<serde_json::Value> = serde_json::from_str(&item.data).ok();
        let field = |name: &str| data.as_ref().and_then(|d| d.get(name)).and_then(serde_json::Value::as_str).map(str::to_owned);
        let resource = field("notificationResource");
        let to_topic = match &resource {
            Some(resource) => resource == topic_arn,
            None => item.summary.split_whitespace().any(|word| word == topic_arn),
        };
        if !to_topic {
            continue;
        }
        let state = field("actionState").unwrap_or_else(|| {
            if item.summary.starts_with("Failed") { "Failed".into() } else if item.summary.starts_with("Successfully") { "Succeeded".into() } else { "Unknown".into() }
        });
        if newest.as_ref().is_none_or(|n| item.timestamp > n.item.timestamp) {
            newest = Some(Notification { item, state, error: field("error") });
        }
    }
    newest
}
