//! Carrying the core's requests out, with one scan's memory.
//!
//! A [`Carrier`] lives for one scan. It assumes each account's audit role once, reads every
//! [`Request`] with the role of the account the request is addressed to (its owner), or with
//! orgwatch's own identity for an organization read (an account's path), and keeps
//! one entry per request so that a fact many accounts need — an organization trail's chain, a
//! central security account's topic — is read once for all of them, with one read in flight
//! per key. An account's own facts are forgotten when its judgement ends, unless another
//! account read them or the core marked them shared, so memory follows the accounts in flight,
//! not the organization.

use crate::reads::AwsReads;
use orgwatch_core::{Answer, Need, Observed, Request, Unobserved};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// One answer, shared by every account that asks for it.
#[derive(Default)]
struct Entry {
    answer: OnceCell<Observed<Answer>>,
    /// Kept for the rest of the scan: read across accounts, or marked shared by the core.
    keep: AtomicBool,
}

/// The audit role assumed in one account, when; the error says why it could not be.
struct Session<S> {
    assumed_at: Instant,
    role: Result<S, String>,
}

type SessionCell<S> = Arc<OnceCell<Session<S>>>;

/// Carries requests out for one scan; see the module documentation.
pub struct Carrier<'r, R: AwsReads> {
    reads: &'r R,
    sessions: Mutex<HashMap<String, SessionCell<R::Session>>>,
    answers: Mutex<HashMap<Request, Arc<Entry>>>,
    /// Accounts that own a fact another account asked for (an organization trail's owner, a
    /// central topic's): their roles are kept for the scan; every other account's role is
    /// dropped with its judgement, so memory follows the accounts in flight.
    serving: Mutex<HashSet<String>>,
    /// A role assumed longer ago than this is assumed again before its next read, so a long
    /// scan never reads with credentials about to expire.
    refresh_after: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<'r, R: AwsReads> Carrier<'r, R> {
    pub fn new(reads: &'r R) -> Self {
        Carrier { reads, sessions: Mutex::new(HashMap::new()), answers: Mutex::new(HashMap::new()), serving: Mutex::new(HashSet::new()), refresh_after: Duration::MAX }
    }

    /// Assumes a role again once it is older than `age` (see the field).
    pub fn refresh_sessions_after(mut self, age: Duration) -> Self {
        self.refresh_after = age;
        self
    }

    /// The answer to `need`, asked on behalf of `requester` (the account being judged). Never
    /// fails: what could not be read is an `Err(Unobserved)` fact.
    pub async fn fetch(&self, requester: &str, need: &Need) -> Observed<Answer> {
        let across = need.request.account_id() != requester;
        // An organization read uses no role of the account it names: that role serves no one.
        if across && !need.request.is_organization_read() {
            lock(&self.serving).insert(need.request.account_id().to_owned());
        }
        let keep = need.shared || across;
        let entry = {
            let mut answers = lock(&self.answers);
            let entry = answers.entry(need.request.clone()).or_default().clone();
            if keep {
                entry.keep.store(true, Ordering::Relaxed);
            }
            entry
        };
        entry.answer.get_or_init(|| self.carry_out(&need.request)).await.clone()
    }

    /// The judgement of `account_id` is over: forget its own facts and its role's session,
    /// except what other accounts read or will read. The role stays when another account has
    /// read through it; an account whose facts are only marked shared gives its role up (its
    /// answers stay), and should another account need a fact of it not read yet, the role is
    /// assumed again.
    pub fn release(&self, account_id: &str) {
        lock(&self.answers).retain(|request, entry| request.account_id() != account_id || entry.keep.load(Ordering::Relaxed));
        // A refused role stays refused for the scan: its answer is kept and not asked again.
        let serving = lock(&self.serving).contains(account_id);
        let mut sessions = lock(&self.sessions);
        let refused = sessions.get(account_id).is_some_and(|cell| cell.get().is_some_and(|s| s.role.is_err()));
        if !serving && !refused {
            sessions.remove(account_id);
        }
    }

    /// How many accounts' roles are held (assumed or refused).
    #[cfg(test)]
    fn sessions_held(&self) -> usize {
        lock(&self.sessions).len()
    }

    async fn session(&self, account_id: &str) -> Result<R::Session, String> {
        let cell = {
            let mut sessions = lock(&self.sessions);
            let cell = sessions.entry(account_id.to_owned()).or_default();
            if cell.get().is_some_and(|s| s.role.is_ok() && s.assumed_at.elapsed() >= self.refresh_after) {
                *cell = SessionCell::default();
            }
            cell.clone()
        };
        let session = cell.get_or_init(|| async { Session { role: self.reads.assume_role(account_id).await, assumed_at: Instant::now() } }).await;
        session.role.clone()
    }

    async fn carry_out(&self, request: &Request) -> Observed<Answer> {
        let reads = self.reads;
        // An organization read is made with orgwatch's own identity: no role is assumed for it.
        if let Request::OrgPath { account_id } = request {
            return reads.org_path(account_id).await.map(Answer::OrgPath);
        }
        let session = self.session(request.account_id()).await.map_err(Unobserved::role_assumption_failed)?;
        match request {
            Request::Trails { region, .. } => reads.describe_trails(&session, region).await.map(Answer::Trails),
            Request::TrailStatus { region, trail_arn, .. } => reads.get_trail_status(&session, region, trail_arn).await.map(Answer::TrailStatus),
            Request::EventSelectors { region, trail_arn, .. } => reads.get_event_selectors(&session, region, trail_arn).await.map(Answer::EventSelectors),
            Request::MetricFilters(group) => reads.describe_metric_filters(&session, group).await.map(Answer::MetricFilters),
            Request::Alarms { region, .. } => reads.describe_alarms(&session, region).await.map(Answer::Alarms),
            Request::Topic { region, topic_arn, .. } => reads.get_topic_attributes(&session, region, topic_arn).await.map(Answer::Topic),
            Request::Subscriptions { region, topic_arn, .. } => reads.list_subscriptions_by_topic(&session, region, topic_arn).await.map(Answer::Subscriptions),
            Request::Key { region, key_id, .. } => reads.describe_key(&session, region, key_id).await.map(Answer::Key),
            Request::KeyPolicy { region, key_id, .. } => reads.get_key_policy(&session, region, key_id).await.map(Answer::KeyPolicy),
            Request::AlarmHistory { region, alarm_name, every_kind, .. } => reads.describe_alarm_history(&session, region, alarm_name.as_deref(), *every_kind).await.map(Answer::AlarmHistory),
            Request::AlarmStates { region, alarm_name, start, end, .. } => reads.describe_alarm_states(&session, region, alarm_name, *start, *end).await.map(Answer::AlarmHistory),
            Request::MetricData { region, start, end, queries, .. } => reads.get_metric_data(&session, region, *start, *end, queries).await.map(Answer::MetricData),
            // Carried out above, before any role; listed for the match to be whole.
            Request::OrgPath { account_id } => reads.org_path(account_id).await.map(Answer::OrgPath),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryOrg;

    const MANAGEMENT: &str = "100000000000";
    const SECURITY: &str = "200000000000";
    const MEMBER: &str = "300000000000";

    fn topic_need(owner: &str, arn: &str) -> Need {
        Need { request: Request::Topic { account_id: owner.to_owned(), region: "us-east-1".into(), topic_arn: arn.to_owned() }, shared: true }
    }

    #[tokio::test]
    async fn a_role_is_kept_only_while_it_serves_other_accounts() {
        let mut org = MemoryOrg::new(MANAGEMENT);
        let own = org.add_account(MEMBER, "member").add_topic(MEMBER, "us-east-1", "alerts", true);
        let central = org.add_account(SECURITY, "security").add_topic(SECURITY, "us-east-1", "security-alerts", true);
        let carrier = Carrier::new(&org);

        // The member's own topic, marked shared by the core: its answer stays, its role goes.
        assert!(carrier.fetch(MEMBER, &topic_need(MEMBER, &own)).await.is_ok());
        carrier.release(MEMBER);
        assert_eq!(carrier.sessions_held(), 0);
        assert!(carrier.fetch(MEMBER, &topic_need(MEMBER, &own)).await.is_ok());
        assert_eq!(org.call_count(MEMBER, "sns:GetTopicAttributes"), 1, "the kept answer is not read again");

        // The security account's topic, read on behalf of the member: that role stays.
        assert!(carrier.fetch(MEMBER, &topic_need(SECURITY, &central)).await.is_ok());
        carrier.release(SECURITY);
        carrier.release(MEMBER);
        assert_eq!(carrier.sessions_held(), 1);
        assert_eq!(org.call_count(SECURITY, "sts:AssumeRole"), 1);
    }

    fn need(request: Request) -> Need {
        Need { request, shared: false }
    }

    #[tokio::test]
    async fn an_accounts_path_is_read_with_orgwatchs_own_identity_and_assumes_no_role() {
        let mut org = MemoryOrg::new(MANAGEMENT);
        org.add_ou("ou-a1b2-prod", None);
        org.add_account(MEMBER, "member").parent = Some("ou-a1b2-prod".into());
        // Even a refused role does not stand in the way of the account's path.
        org.add_account(SECURITY, "security").assumable = false;
        let carrier = Carrier::new(&org);

        let path = carrier.fetch(MEMBER, &need(Request::OrgPath { account_id: MEMBER.into() })).await;
        assert_eq!(path, Ok(Answer::OrgPath("o-a1b2c3d4e5/r-a1b2/ou-a1b2-prod/".into())));
        let path = carrier.fetch(MEMBER, &need(Request::OrgPath { account_id: SECURITY.into() })).await;
        assert_eq!(path, Ok(Answer::OrgPath("o-a1b2c3d4e5/r-a1b2/".into())));
        assert!(org.calls().iter().all(|c| c.operation == "organizations:ListParents" && c.account_id == MANAGEMENT), "{:?}", org.calls());
        assert_eq!(carrier.sessions_held(), 0, "no role was assumed");
        // Read once per scan.
        assert!(carrier.fetch(MEMBER, &need(Request::OrgPath { account_id: MEMBER.into() })).await.is_ok());
        assert_eq!(org.call_count(MANAGEMENT, "organizations:ListParents"), 3);
        carrier.release(MEMBER);
        assert_eq!(carrier.sessions_held(), 0);
    }

    #[tokio::test]
    async fn a_key_its_policy_and_an_alarms_history_are_read_with_their_owners_role() {
        let mut org = MemoryOrg::new(MANAGEMENT);
        let security = org.add_account(SECURITY, "security");
        let topic = security.add_topic(SECURITY, "us-east-1", "security-alerts", true);
        let key = security.add_key(SECURITY, "us-east-1", "1234abcd-12ab-34cd-56ef-1234567890ab", &["alias/alerts"]);
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        security.record_notification("us-east-1", "root-usage", &topic, at, None);
        org.add_account(MEMBER, "member");
        let carrier = Carrier::new(&org);

        let (region, account_id) = ("us-east-1".to_owned(), SECURITY.to_owned());
        let described = carrier.fetch(MEMBER, &need(Request::Key { account_id: account_id.clone(), region: region.clone(), key_id: "alias/alerts".into() })).await;
        assert!(matches!(&described, Ok(Answer::Key(orgwatch_core::facts::Key::Found(m))) if m.arn == key), "{described:?}");
        let policy = carrier.fetch(MEMBER, &need(Request::KeyPolicy { account_id: account_id.clone(), region: region.clone(), key_id: key.clone() })).await;
        assert_eq!(policy, Ok(Answer::KeyPolicy(crate::memory::default_key_policy(SECURITY))));
        let history = carrier.fetch(MEMBER, &need(Request::AlarmHistory { account_id, region, alarm_name: Some("root-usage".into()), every_kind: false })).await;
        assert!(matches!(&history, Ok(Answer::AlarmHistory(h)) if h.items.len() == 1 && h.items[0].timestamp == at && h.complete), "{history:?}");
        for operation in ["sts:AssumeRole", "kms:DescribeKey", "kms:GetKeyPolicy", "cloudwatch:DescribeAlarmHistory"] {
            assert_eq!(org.call_count(SECURITY, operation), 1, "{operation} with the owner's identity");
        }
        assert_eq!(org.call_count(MEMBER, "sts:AssumeRole"), 0);
    }
}
