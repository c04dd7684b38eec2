//! The chain evaluation, demand-driven and pure: given the facts known so far, the core either
//! judges every control of an account, or names the next reads it needs. No I/O, no way to fail.
//!
//! One walk does both. For each multi-region trail an account can see, every path trail →
//! metric filter → alarm → topic is walked link by link. A link whose fact is not known yet
//! becomes a [`Request`] addressed to the account that owns it, and the walk goes on past it
//! where the next link does not depend on it (a trail's status, its event selectors and its log
//! group's filters are asked for together; so are a topic's attributes and its subscriptions),
//! so independent reads go out in one round. Facts that cannot change a verdict are not asked
//! for: a chain stops at its first broken link, and a control with a passing chain asks for
//! nothing more.
//!
//! The account passes when any path holds. Otherwise the finding reports one path: if any path
//! had a link that could not be seen, the furthest such path (status `ERROR` — an unseen link
//! might have held); else the furthest failing path, at the first link it broke. Ties go to the
//! first path in ARN and name order, so the reason is deterministic.

use crate::controls::Control;
use crate::detect::{DetectionCache, Verdict};
use crate::facts::{EventSelectors, LogGroupRef, MetricFilter, MetricRef, MetricTransformation, Topic, Trail, Unobserved, UnobservedKind};
use crate::finding::{Advice, Evidence, EvidenceLink, Finding, LinkKind, Reason, Status, UnseenRead, WorkingTopic};
use crate::request::{Answer, Facts, Request};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A configured exception: this control does not apply to this account, for a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub account_id: String,
    pub control_id: String,
    pub reason: String,
    /// Last day (UTC) the waiver holds; none means it never expires.
    pub expires: Option<NaiveDate>,
}

impl Waiver {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|day| now.date_naive() > day)
    }
}

/// How far along the chain a path got; a later link means a path that got further.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    Account = 1,
    Trail,
    EventSelectors,
    LogGroup,
    Delivery,
    MetricFilter,
    MetricValue,
    Alarm,
    AlarmActions,
    AlarmFiring,
    AlarmNotification,
    /// A composite alarm watching the alarm does not go to ALARM with it.
    CompositeRule,
    /// A composite alarm that goes to ALARM with it has its actions disabled.
    CompositeActions,
    /// It notifies no SNS topic.
    CompositeNotification,
    Topic,
    Subscription,
    TopicPolicy,
    TopicEncryption,
    KeyPolicy,
    AlarmHistory,
    /// SNS recorded failed deliveries of the topic's notifications and none delivered.
    SubscriberDelivery,
    Complete,
}

/// One judged path.
#[derive(Clone, Debug)]
struct Path {
    reached: Link,
    reason: Reason,
    message: String,
    links: Vec<EvidenceLink>,
    notes: Vec<String>,
    /// The read that could not be made, on a path ended by it.
    unseen: Option<UnseenRead>,
    /// The passing chain's alarm, measured (on the scans that gather or carry advice).
    advice: Option<Advice>,
}

impl Path {
    fn status(&self) -> Status {
        self.reason.status()
    }
}

/// The organization around the audited account.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// The region `DescribeTrails` is called in; multi-region trails are visible from any.
    pub region: &'a str,
    /// Every account of the organization listed so far, audited or not: a link owned by any
    /// other account cannot be read with an audit role.
    pub members: &'a BTreeSet<String>,
    /// Whether `members` is the whole organization. While it is not (a scan judges accounts
    /// while the listing goes on), a link owned by an account not listed yet is neither read
    /// nor judged outside the organization: the walk waits for it (see [`Step::Need`]).
    pub members_complete: bool,
    /// The organization's id (`o-…`), for `aws:SourceOrgID` in a topic's or key's policy;
    /// `None` when it is not known (a Terraform plan), and a policy that names it is then
    /// undecidable.
    pub organization_id: Option<&'a str>,
}

/// The judgement of one account: the controls to judge there, and what they are judged with.
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    pub account_id: &'a str,
    pub controls: &'a [&'a Control],
    pub scope: Scope<'a>,
    pub waivers: &'a [Waiver],
    pub now: DateTime<Utc>,
    /// Verdicts of filter patterns, shared by every account of a scan.
    pub detections: &'a DetectionCache,
    /// Whether passing chains' alarms are measured on this scan ([`advice`]).
    pub advice: AdviceMode<'a>,
}

/// A read the core needs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub request: Request,
    /// Other accounts are likely to need the same answer in this scan (an organization trail's
    /// chain, a topic): worth keeping for the rest of the scan.
    pub shared: bool,
}

/// What the core says after looking at the facts.
#[derive(Clone, Debug)]
pub enum Step {
    /// Read these (all of them are independent of each other), then ask again. Empty when a
    /// link's owner is not among the members listed so far: ask again once the listing has
    /// named more accounts or is complete.
    Need(Vec<Need>),
    /// One finding per control, in the order of the controls.
    Done(Vec<Finding>),
}

impl Audit<'_> {
    /// The findings, or the reads needed before they can be made.
    pub fn step(&self, facts: &Facts) -> Step {
        let mut needs = BTreeMap::new();
        let mut findings = Vec::with_capacity(self.controls.len());
        let mut waiting = false;
        let policies = PolicyCache::default();
        let wants = advice::Wants::default();
        for control in self.controls {
            match self.judge(control, facts, None, &policies, &wants) {
                Judged::Finding(finding) => findings.push(finding),
                Judged::Pending(more) => {
                    waiting = true;
                    for (request, shared) in more {
                        *needs.entry(request).or_insert(false) |= shared;
                    }
                }
            }
        }
        let window = match self.advice {
            AdviceMode::Gather(window) => Some(window),
            _ => None,
        };
        for (request, shared) in wants.requests(window) {
            *needs.entry(request).or_insert(false) |= shared;
        }
        if !waiting {
            Step::Done(findings)
        } else {
            Step::Need(needs.into_iter().map(|(request, shared)| Need { request, shared }).collect())
        }
    }

    /// The findings from what is known, every fact still missing taken as `missing` (a scan
    /// that ran out of time, say).
    pub fn conclude(&self, facts: &Facts, missing: &Unobserved) -> Vec<Finding> {
        let policies = PolicyCache::default();
        let wants = advice::Wants::default();
        self.controls
            .iter()
            .map(|control| match self.judge(control, facts, Some(missing), &policies, &wants) {
                Judged::Finding(finding) => finding,
                // Nothing is pending when every missing fact is taken as unseen.
                Judged::Pending(_) => self.finding(control, Reason::ApiError, "No verdict could be reached.".into(), Evidence::default()),
            })
            .collect()
    }

    fn finding(&self, control: &Control, reason: Reason, message: String, evidence: Evidence) -> Finding {
        Finding { account_id: self.account_id.to_owned(), control_id: control.id.to_owned(), status: reason.status(), reason, message, evidence }
    }

    fn judge(&self, control: &Control, facts: &Facts, missing: Option<&Unobserved>, policies: &PolicyCache, wants: &advice::Wants) -> Judged {
        let mut notes = Vec::new();
        for waiver in self.waivers.iter().filter(|w| w.account_id == self.account_id && w.control_id == control.id) {
            if waiver.is_expired(self.now) {
                notes.push(format!(
                    "a waiver expired on {} and was ignored (reason: {})",
                    waiver.expires.map(|d| d.to_string()).unwrap_or_default(),
                    waiver.reason
                ));
            } else {
                let until = waiver.expires.map_or_else(|| "with no expiry".to_owned(), |d| format!("until {d}"));
                let link = EvidenceLink::with_detail(LinkKind::Waiver, self.account_id, waiver.reason.clone());
                return Judged::Finding(self.finding(control, Reason::Waived, format!("Waived {until}: {}", waiver.reason), Evidence { links: vec![link], chains_examined: 0, notes, ..Evidence::default() }));
            }
        }

        let mut walk = Walk {
            audit: self,
            control,
            facts,
            missing,
            policies,
            wants,
            needs: BTreeMap::new(),
            awaiting_members: false,
            links: Vec::new(),
            notes: Vec::new(),
            pending: false,
            shared: false,
            watching: None,
            advised: false,
            advice_pending: false,
            out: Vec::new(),
        };
        walk.account();
        let Walk { needs, awaiting_members, advice_pending, out: paths, .. } = walk;
        // The chosen passing chain's advice is still being read.
        if advice_pending {
            return Judged::Pending(needs);
        }
        let has_pass = paths.iter().any(|p| p.status() == Status::Pass);
        if !has_pass && (!needs.is_empty() || awaiting_members) {
            return Judged::Pending(needs);
        }
        let judged = paths;
        let chains_examined = judged.iter().filter(|p| p.reached > Link::Account).count();
        let chosen = choose(judged);
        notes.extend(chosen.notes);
        let working_topics = if chosen.reason.status() == Status::Fail { working_topics(facts, self) } else { Vec::new() };
        let evidence = Evidence { links: chosen.links, chains_examined, notes, working_topics, unseen: chosen.unseen, advice: chosen.advice };
        self.finding(control, chosen.reason, chosen.message, evidence).into()
    }
}

/// Policies parsed during one step, by their text.
type PolicyCache = std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<crate::policy::Policy>>>;

enum Judged {
    Finding(Finding),
    Pending(BTreeMap<Request, bool>),
}

impl From<Finding> for Judged {
    fn from(finding: Finding) -> Self {
        Judged::Finding(finding)
    }
}

/// Judges one control in one account from facts that are all there: a missing fact is an
/// `ERROR` ("not collected"), never a guess.
pub fn evaluate(audit: &Audit<'_>, control: &Control, facts: &Facts) -> Finding {
    let single = [control];
    let audit = Audit { controls: &single, ..*audit };
    let missing = Unobserved::api_error("collection", "it was not collected");
    audit.conclude(facts, &missing).remove(0)
}

/// A pass if any; else the furthest path with an unseen link; else the furthest failure.
fn choose(paths: Vec<Path>) -> Path {
    let best = |status: Status| {
        paths
            .iter()
            .filter(|p| p.status() == status)
            // max_by_key keeps the last of equals; reverse first so the first path wins ties.
            .rev()
            .max_by_key(|p| p.reached)
            .cloned()
    };
    best(Status::Pass).or_else(|| best(Status::Error)).or_else(|| best(Status::Fail)).unwrap_or_else(|| Path {
        reached: Link::Trail,
        reason: Reason::NoMultiRegionTrail,
        message: "No trail could be judged.".into(),
        links: Vec::new(),
        notes: Vec::new(),
        unseen: None,
        advice: None,
    })
}

/// The topics the facts show working for the audited account — found, with a confirmed
/// subscription, unencrypted (a key's fitness is not judged here, so an encrypted topic is not
/// offered), and a policy that certainly lets CloudWatch publish for any alarm of the account —
/// with the accounts whose enabled alarms notify them.
fn working_topics(facts: &Facts, audit: &Audit<'_>) -> Vec<WorkingTopic> {
    let mut topics: BTreeMap<&str, WorkingTopic> = BTreeMap::new();
    for (request, answer) in facts.iter() {
        let (Request::Topic { account_id, region, topic_arn }, Ok(Answer::Topic(Topic::Found { kms_master_key_id, policy }))) = (request, answer) else { continue };
        if kms_master_key_id.is_some() || !notify::admits_any_alarm(policy.as_deref(), topic_arn, audit.account_id, audit.scope.organization_id) {
            continue;
        }
        let subscriptions = Request::Subscriptions { account_id: account_id.clone(), region: region.clone(), topic_arn: topic_arn.clone() };
        let confirmed = matches!(facts.get(&subscriptions), Some(Ok(Answer::Subscriptions(subs))) if subs.iter().any(|s| s.is_confirmed()));
        if confirmed {
            topics.insert(topic_arn, WorkingTopic { arn: topic_arn.clone(), account_id: account_id.clone(), region: region.clone(), notified_from: Vec::new() });
        }
    }
    for (request, answer) in facts.iter() {
        let (Request::Alarms { account_id, .. }, Ok(Answer::Alarms(alarms))) = (request, answer) else { continue };
        let metric_actions = alarms.metric.iter().filter(|a| a.actions_enabled).flat_map(|a| &a.alarm_actions);
        let composite_actions = alarms.composite.iter().filter(|a| a.actions_enabled).flat_map(|a| &a.alarm_actions);
        for action in metric_actions.chain(composite_actions) {
            if let Some(topic) = topics.get_mut(action.as_str())
                && !topic.notified_from.contains(account_id)
            {
                topic.notified_from.push(account_id.clone());
            }
        }
    }
    topics.into_values().map(|mut t| { t.notified_from.sort(); t }).collect()
}

/// What a look-up of one fact found.
enum Look<'f, T> {
    Known(&'f T),
    /// Not known yet; it was asked for.
    Pending,
    /// It could not be seen; the path was ended with the reason.
    Ended,
}

/// Walks the paths of one control, one link at a time; `end` closes the current path.
struct Walk<'a, 'f> {
    audit: &'a Audit<'a>,
    control: &'a Control,
    facts: &'f Facts,
    /// Policies parsed in this step, by text: every control's chain through one topic judges the
    /// same policy.
    policies: &'a PolicyCache,
    /// When set, a fact not known is taken as this instead of being asked for.
    missing: Option<&'a Unobserved>,
    /// What this control still needs, with the `shared` hint.
    needs: BTreeMap<Request, bool>,
    /// A link's owner is not among the members listed so far.
    awaiting_members: bool,
    links: Vec<EvidenceLink>,
    notes: Vec<String>,
    /// The current path went past a fact not known yet.
    pending: bool,
    /// The current path runs through an organization trail, whose chain every member reads.
    shared: bool,
    /// The metric alarm on the detecting metric the current path runs through.
    watching: Option<&'f crate::facts::Alarm>,
    /// A passing chain has been advised on (the first; the others pass without advice).
    advised: bool,
    /// The first passing chain's advice is still being read.
    advice_pending: bool,
    /// The metric queries of the whole step, batched per account and region.
    wants: &'a advice::Wants,
    out: Vec<Path>,
}

impl<'f> Walk<'_, 'f> {
    /// Closes the current path with a verdict; a path that went past a fact not known yet
    /// has none until that fact is known.
    fn end(&mut self, reached: Link, reason: Reason, message: String) {
        self.end_unseen(reached, reason, message, None);
    }

    /// Closes the current path as [`Walk::end`] does, naming the read that could not be made.
    fn end_unseen(&mut self, reached: Link, reason: Reason, message: String, unseen: Option<UnseenRead>) {
        if !self.pending {
            self.out.push(Path { reached, reason, message, links: self.links.clone(), notes: self.notes.clone(), unseen, advice: None });
        }
    }

    /// Runs `inner` with one more link, then drops it again.
    fn with<R>(&mut self, link: EvidenceLink, inner: impl FnOnce(&mut Self) -> R) -> R {
        self.links.push(link);
        let result = inner(self);
        self.links.pop();
        result
    }

    /// Runs `inner` on a path whose earlier link is not known yet.
    fn pending<R>(&mut self, inner: impl FnOnce(&mut Self) -> R) -> R {
        let before = std::mem::replace(&mut self.pending, true);
        let result = inner(self);
        self.pending = before;
        result
    }

    /// The answer to `request`, if known; else asks for it (or, when concluding, ends the path
    /// as unseen). A link owned outside the organization ends the path at once.
    fn look<T>(&mut self, reached: Link, request: Request, what: &str, pick: impl FnOnce(&'f Answer) -> Option<&'f T>) -> Look<'f, T> {
        let owner = request.account_id().to_owned();
        if owner != self.audit.account_id && !self.audit.scope.members.contains(&owner) {
            if !self.audit.scope.members_complete {
                // Not listed yet: wait for the listing, or, when concluding, call it unseen.
                if let Some(unobserved) = self.missing {
                    self.unseen(reached, unobserved, what, &owner);
                    return Look::Ended;
                }
                self.awaiting_members = true;
                return Look::Pending;
            }
            let unseen = UnseenRead { operation: request.operation().to_owned(), account_id: owner.clone() };
            self.end_unseen(reached, Reason::OutsideOrganization, format!("Could not see {what}: account {owner} owns it and is outside the organization."), Some(unseen));
            return Look::Ended;
        }
        match self.facts.get(&request) {
            None => match self.missing {
                Some(unobserved) => {
                    self.unseen(reached, unobserved, what, &owner);
                    Look::Ended
                }
                None => {
                    // Another account's topic and key are read for every account that alarms
                    // there (a central topic); an account's own are its own, and dropped with it.
                    let central = owner != self.audit.account_id && matches!(request, Request::Topic { .. } | Request::Subscriptions { .. } | Request::Key { .. } | Request::KeyPolicy { .. });
                    let shared = self.shared || central;
                    *self.needs.entry(request).or_insert(false) |= shared;
                    Look::Pending
                }
            },
            Some(Err(unobserved)) => {
                self.unseen(reached, unobserved, what, &owner);
                Look::Ended
            }
            Some(Ok(answer)) => match pick(answer) {
                Some(value) => Look::Known(value),
                None => {
                    let operation = request.operation();
                    self.end(reached, Reason::ApiError, format!("Could not see {what}: {operation} was answered with something else."));
                    Look::Ended
                }
            },
        }
    }

    fn unseen(&mut self, reached: Link, unobserved: &Unobserved, what: &str, owner: &str) {
        let operation = &unobserved.operation;
        let message = &unobserved.message;
        let (reason, text) = match unobserved.kind {
            UnobservedKind::RoleAssumptionFailed if owner == self.audit.account_id => {
                (Reason::RoleAssumptionFailed, format!("The audit role could not be assumed in account {owner}: {message}"))
            }
            UnobservedKind::RoleAssumptionFailed => (
                Reason::RoleAssumptionFailed,
                format!("Could not see {what}: it is owned by account {owner}, whose audit role could not be assumed: {message}"),
            ),
            UnobservedKind::AccessDenied => (Reason::AccessDenied, format!("Could not see {what}: {operation} was denied: {message}")),
            UnobservedKind::ApiError => (Reason::ApiError, format!("Could not see {what}: {operation} failed: {message}")),
            UnobservedKind::NotInPlan => (Reason::NotInPlan, format!("Could not see {what}: {message}")),
        };
        let unseen = UnseenRead { operation: operation.clone(), account_id: owner.to_owned() };
        self.end_unseen(reached, reason, text, Some(unseen));
    }

    fn account(&mut self) {
        let account_id = self.audit.account_id;
        let request = Request::Trails { account_id: account_id.to_owned(), region: self.audit.scope.region.to_owned() };
        let link = EvidenceLink::new(LinkKind::Account, account_id).in_account(account_id);
        let trails = match self.with(link, |walk| walk.look(Link::Account, request, "the account's trails", |a| as_variant!(a, Answer::Trails))) {
            Look::Known(trails) => trails,
            Look::Pending | Look::Ended => return,
        };
        let mut candidates: Vec<&Trail> = trails.iter().filter(|t| t.multi_region).collect();
        candidates.sort_by(|a, b| a.arn.cmp(&b.arn));
        candidates.dedup_by(|a, b| a.arn == b.arn);
        if candidates.is_empty() {
            let single: Vec<&str> = trails.iter().map(|t| t.arn.as_str()).collect();
            let message = if single.is_empty() {
                "No CloudTrail trail is visible in the account.".to_owned()
            } else {
                format!("No multi-region trail: only single-region trails exist ({}).", single.join(", "))
            };
            self.links = trails.iter().map(|t| trail_link(t, "single-region", t.owner_account().unwrap_or(account_id))).collect();
            self.end(Link::Account, Reason::NoMultiRegionTrail, message);
            self.links.clear();
            return;
        }
        for trail in candidates {
            let shared = std::mem::replace(&mut self.shared, trail.organization_trail);
            self.trail(trail);
            self.shared = shared;
        }
    }

    fn trail(&mut self, trail: &'f Trail) {
        // The trail's chain lives in the account that owns it: an organization trail's in the
        // management account.
        let owner = trail.owner_account().unwrap_or(self.audit.account_id).to_owned();
        let detail = if trail.organization_trail { "multi-region organization trail" } else { "multi-region trail" };
        let link = trail_link(trail, detail, &owner);
        self.with(link, |walk| {
            let arn = &trail.arn;
            let region = trail.home_region.clone();
            let request = Request::TrailStatus { account_id: owner.clone(), region: region.clone(), trail_arn: arn.clone() };
            let status = match walk.look(Link::Trail, request, &format!("the status of trail {arn}"), |a| as_variant!(a, Answer::TrailStatus)) {
                Look::Ended => return,
                Look::Known(status) if !status.is_logging => {
                    return walk.end(Link::Trail, Reason::TrailNotLogging, format!("Trail {arn} is not logging (IsLogging is false)."));
                }
                Look::Known(status) => Some(status),
                Look::Pending => None,
            };
            let continue_after_status = |walk: &mut Self| {
                let request = Request::EventSelectors { account_id: owner.clone(), region, trail_arn: arn.clone() };
                match walk.look(Link::EventSelectors, request, &format!("the event selectors of trail {arn}"), |a| as_variant!(a, Answer::EventSelectors)) {
                    Look::Ended => {}
                    Look::Known(selectors) => match management_events_gap(selectors) {
                        Some(gap) => walk.end(Link::EventSelectors, Reason::ManagementEventsNotCaptured, format!("Trail {arn} {gap}.")),
                        None => walk.log_group(trail, status.and_then(|s| s.latest_cloudwatch_logs_delivery_error.as_deref())),
                    },
                    Look::Pending => walk.pending(|walk| walk.log_group(trail, None)),
                }
            };
            if status.is_some() { continue_after_status(walk) } else { walk.pending(continue_after_status) }
        });
    }

    fn log_group(&mut self, trail: &Trail, delivery_error: Option<&str>) {
        let arn = &trail.arn;
        let Some(log_group_arn) = trail.log_group_arn.as_deref().filter(|a| !a.is_empty()) else {
            return self.end(Link::LogGroup, Reason::TrailNotSendingToCloudwatch, format!("Trail {arn} does not deliver to a CloudWatch Logs group."));
        };
        let Some(group) = LogGroupRef::from_arn(log_group_arn) else {
            return self.end(Link::LogGroup, Reason::TrailNotSendingToCloudwatch, format!("Trail {arn} names a CloudWatch Logs group ARN that cannot be read: {log_group_arn}."));
        };
        let link = EvidenceLink::new(LinkKind::LogGroup, log_group_arn).in_account(&group.account_id).in_region(&group.region).with("name", group.name.as_str());
        self.with(link, |walk| {
            if let Some(error) = delivery_error.filter(|e| !e.is_empty()) {
                return walk.end(Link::Delivery, Reason::CloudwatchDeliveryFailing, format!("Trail {arn} fails to deliver to log group {}: {error}.", group.name));
            }
            walk.metric_filters(&group);
        });
    }

    fn metric_filters(&mut self, group: &LogGroupRef) {
        let what = format!("the metric filters of log group {}", group.name);
        let filters = match self.look(Link::MetricFilter, Request::MetricFilters(group.clone()), &what, |a| as_variant!(a, Answer::MetricFilters)) {
            Look::Known(filters) => filters,
            Look::Pending => {
                // The alarms depend on the log group alone: asked for with its filters.
                let alarms = Request::Alarms { account_id: group.account_id.clone(), region: group.region.clone() };
                self.pending(|walk| walk.look(Link::Alarm, alarms, "the alarms", |a| as_variant!(a, Answer::Alarms)));
                return;
            }
            Look::Ended => return,
        };
        let control = self.control;
        let mut detecting = Vec::new();
        let mut misses = Vec::new();
        for filter in filters {
            if filter.apply_on_transformed_logs {
                // Its pattern sees the transformer's output, which orgwatch does not read.
                let link = EvidenceLink::with_detail(LinkKind::MetricFilter, &filter.name, filter.pattern.clone())
                    .in_account(&group.account_id)
                    .in_region(&group.region)
                    .with("apply_on_transformed_logs", true);
                let message = format!(
                    "Metric filter {:?} on log group {} matches the log group's transformed events (applyOnTransformedLogs), not the CloudTrail records; orgwatch does not read the log group's transformer, so whether it detects {} was not judged.",
                    filter.name, group.name, control.id
                );
                self.with(link, |walk| walk.end(Link::MetricFilter, Reason::MetricFilterUnjudged, message));
                continue;
            }
            match &*self.audit.detections.verdict(&filter.pattern, control) {
                Verdict::Judged { detects: true, over_broad, .. } => detecting.push((filter, over_broad.clone())),
                // Said only when no filter detects: see below.
                _ => misses.push(filter),
            }
        }
        if detecting.is_empty() {
            let before = self.notes.len();
            for filter in misses {
                let note = match &*self.audit.detections.verdict(&filter.pattern, control) {
                    Verdict::Unparsable(e) => format!("metric filter {:?} has a pattern CloudWatch would not accept: {e}", filter.name),
                    Verdict::Judged { summary, .. } => format!("metric filter {:?} {summary}", filter.name),
                };
                self.notes.push(note);
            }
            let message = if filters.is_empty() {
                format!("Log group {} has no metric filters.", group.name)
            } else {
                format!("None of the {} metric filter(s) on log group {} detects {} (see the notes).", filters.len(), group.name, control.id)
            };
            self.end(Link::MetricFilter, Reason::NoMatchingMetricFilter, message);
            self.notes.truncate(before);
            return;
        }
        for (filter, over_broad) in detecting {
            let link = EvidenceLink::with_detail(LinkKind::MetricFilter, &filter.name, filter.pattern.clone()).in_account(&group.account_id).in_region(&group.region);
            let link = match &filter.field_selection_criteria {
                Some(criteria) => link.with("field_selection_criteria", criteria.as_str()),
                None => link,
            };
            let link = if filter.system_dimensions.is_empty() { link } else { link.with("system_dimensions", filter.system_dimensions.clone()) };
            self.with(link, |walk| {
                if let Some(criteria) = filter.field_selection_criteria.as_deref().filter(|c| !c.trim().is_empty())
                    && let Some((reason, message)) = walk.unselected(group, &filter.name, criteria)
                {
                    return walk.end(Link::MetricValue, reason, message);
                }
                if let Some(summary) = &over_broad {
                    walk.notes.push(format!("metric filter {:?} {summary}", filter.name));
                }
                if filter.transformations.is_empty() {
                    walk.end(Link::MetricValue, Reason::MetricFilterNeverCounts, format!("Metric filter {:?} publishes no metric.", filter.name));
                }
                for transformation in &filter.transformations {
                    walk.metric(group, filter, transformation);
                }
                if over_broad.is_some() {
                    walk.notes.pop();
                }
            });
        }
    }

    /// Why a filter's `fieldSelectionCriteria` keep it from counting the account's events, or
    /// `None` when they select them. The events of a log group are taken to carry its own account
    /// and region as `@aws.account` and `@aws.region` (the source of its own data); an
    /// organization trail's log group holds every member's events, whose fields are not known.
    fn unselected(&self, group: &LogGroupRef, filter: &str, criteria: &str) -> Option<(Reason, String)> {
        let unjudged = |why: String| Some((Reason::MetricFilterUnjudged, format!("Metric filter {filter:?} counts only the events its field selection criteria ({criteria}) select, and orgwatch cannot judge them: {why}.")));
        let parsed = match crate::selection::Criteria::parse(criteria) {
            Ok(parsed) => parsed,
            Err(e) => return unjudged(format!("it cannot read them: {e}")),
        };
        let organization_trail = self.shared;
        let fields = |name: &str| match name {
            _ if organization_trail => None,
            "@aws.account" => Some(group.account_id.clone()),
            "@aws.region" => Some(group.region.clone()),
            _ => None,
        };
        match parsed.selects(&fields) {
            crate::selection::Selected::Yes => None,
            crate::selection::Selected::No => Some((
                Reason::MetricFilterNeverCounts,
                format!(
                    "Metric filter {filter:?} counts only the events its field selection criteria ({criteria}) select, and they select none of log group {}'s, whose events come from account {} in {}.",
                    group.name, group.account_id, group.region
                ),
            )),
            crate::selection::Selected::Undecidable(why) if organization_trail => unjudged(format!("log group {} holds an organization trail's events, from every member ({why})", group.name)),
            crate::selection::Selected::Undecidable(why) => unjudged(why),
        }
    }

    fn metric(&mut self, group: &LogGroupRef, filter: &'f MetricFilter, transformation: &MetricTransformation) {
        let metric = MetricRef { account_id: group.account_id.clone(), region: group.region.clone(), namespace: transformation.namespace.clone(), name: transformation.metric_name.clone() };
        let metric_id = format!("{}/{}", metric.namespace, metric.name);
        let link = EvidenceLink::with_detail(LinkKind::Metric, &metric_id, format!("value {}", transformation.value))
            .in_account(&metric.account_id)
            .in_region(&metric.region)
            .with("namespace", metric.namespace.as_str())
            .with("name", metric.name.as_str())
            .with("value", transformation.value.as_str())
            .with("has_dimensions", transformation.has_dimensions());
        self.with(link, |walk| {
            let value = match transformation.value.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => v,
                Ok(v) => {
                    return walk.end(Link::MetricValue, Reason::MetricFilterNeverCounts, format!("Metric filter {:?} publishes {v} for each match, so metric {metric_id} never counts anything.", filter.name));
                }
                Err(_) => {
                    return walk.end(
                        Link::MetricValue,
                        Reason::MetricFilterNeverCounts,
                        format!("Metric filter {:?} publishes {:?} rather than a positive count, so metric {metric_id} does not count matches.", filter.name, transformation.value),
                    );
                }
            };
            walk.alarms(group, filter, &metric, transformation, value);
        });
    }

    fn topic(&mut self, alarm: Notifier<'_>, alarm_account: &str, topic_arn: &str, owner: String, region: String) {
        let request = Request::Topic { account_id: owner.clone(), region: region.clone(), topic_arn: topic_arn.to_owned() };
        let attributes = match self.look(Link::Topic, request, &format!("topic {topic_arn}"), |a| as_variant!(a, Answer::Topic)) {
            Look::Ended => return,
            Look::Known(Topic::NotFound) => {
                return self.end(Link::Topic, Reason::SnsTopicNotFound, format!("{} {:?} notifies topic {topic_arn}, which does not exist.", alarm.title(), alarm.name));
            }
            Look::Known(Topic::Found { kms_master_key_id, policy }) => Some((kms_master_key_id.as_deref(), policy.as_deref())),
            Look::Pending => None,
        };
        let subscriptions_of = |walk: &mut Self| {
            let request = Request::Subscriptions { account_id: owner.clone(), region: region.clone(), topic_arn: topic_arn.to_owned() };
            let what = format!("the subscriptions of topic {topic_arn}");
            let subscriptions = match walk.look(Link::Subscription, request, &what, |a| as_variant!(a, Answer::Subscriptions)) {
                Look::Known(subscriptions) => subscriptions,
                Look::Pending => return,
                Look::Ended => return,
            };
            let confirmed: Vec<_> = subscriptions.iter().filter(|s| s.is_confirmed()).collect();
            let Some(first) = confirmed.first() else {
                let message = match subscriptions.len() {
                    0 => format!("Topic {topic_arn} has no subscriptions."),
                    pending => format!("Topic {topic_arn} has {pending} subscription(s), none confirmed."),
                };
                return walk.end(Link::Subscription, Reason::NoConfirmedSubscription, message);
            };
            let link = EvidenceLink::with_detail(LinkKind::Subscription, &first.subscription_arn, format!("{} ({} confirmed)", first.protocol, confirmed.len())).in_account(&owner).in_region(&region);
            let Some((kms_key, policy)) = attributes else { return };
            let topic = TopicAt { arn: topic_arn, owner: &owner, region: &region };
            let delivered = format!("{} {:?} notifies topic {topic_arn}, which has {} confirmed subscription(s).", alarm.title(), alarm.name, confirmed.len());
            walk.with(link, |walk| walk.publish(alarm, alarm_account, topic, kms_key, policy, delivered));
        };
        if attributes.is_some() { subscriptions_of(self) } else { self.pending(subscriptions_of) }
    }
}

/// A trail's evidence link: its home region and name.
fn trail_link(trail: &Trail, detail: &str, owner: &str) -> EvidenceLink {
    EvidenceLink::with_detail(LinkKind::Trail, &trail.arn, detail)
        .in_account(owner)
        .in_region(&trail.home_region)
        .with("name", trail.name.as_str())
        .with("organization_trail", trail.organization_trail)
        .with("log_group_arn", trail.log_group_arn.clone().map_or(serde_json::Value::Null, serde_json::Value::from))
}

/// The value of one variant of an answer.
macro_rules! as_variant {
    ($answer:expr, $variant:path) => {
        match $answer {
            $variant(value) => Some(value),
            _ => None,
        }
    };
}
use as_variant;

/// Why the selectors miss management events (read or write), or `None` when they capture all.
fn management_events_gap(selectors: &EventSelectors) -> Option<&'static str> {
    if selectors.basic.is_empty() && selectors.advanced.is_empty() {
        return None; // never configured: AWS's default logs all management events
    }
    let (mut read, mut write) = (false, false);
    for selector in &selectors.basic {
        if !selector.include_management_events.unwrap_or(true) {
            continue;
        }
        match selector.read_write_type.as_deref().unwrap_or("All") {
            "ReadOnly" => read = true,
            "WriteOnly" => write = true,
            _ => (read, write) = (true, true),
        }
    }
    for selector in &selectors.advanced {
        let field = |name: &str| selector.field_selectors.iter().filter(move |f| f.field == name).collect::<Vec<_>>();
        let management = field("eventCategory").iter().any(|f| f.equals.iter().any(|v| v == "Management"));
        if !management {
            continue;
        }
        match field("readOnly").first() {
            Some(f) if f.equals.iter().any(|v| v == "true") || f.not_equals.iter().any(|v| v == "false") => read = true,
            Some(f) if f.equals.iter().any(|v| v == "false") || f.not_equals.iter().any(|v| v == "true") => write = true,
            _ => (read, write) = (true, true),
        }
    }
    match (read, write) {
        (true, true) => None,
        (true, false) => Some("captures only read-only management events"),
        (false, true) => Some("captures only write-only management events"),
        (false, false) => Some("captures no management events"),
    }
}

pub(crate) fn is_aws_managed_sns_key(key: &str) -> bool {
    key == "alias/aws/sns" || key.ends_with(":alias/aws/sns")
}

pub mod advice;
mod alarms;
mod notify;
pub use advice::{AdviceMode, AdviceWindow};
pub use notify::CLOUDWATCH;
use alarms::Notifier;
use notify::TopicAt;

#[cfg(test)]
mod tests;
