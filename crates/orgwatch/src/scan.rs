//! One scan of the organization: list the accounts, judge each with a bound on accounts in
//! flight, and write each account's findings as soon as it is judged.
//!
//! Judging an account is a conversation with the core: the core names the reads it needs,
//! every one of them goes out at once through the scan's [`Carrier`], the answers come back as
//! facts, and the core is asked again until it has its findings. The scan is generic over the
//! AWS reads ([`AwsReads`]) and takes its clock and its shutdown signal as arguments, so tests
//! drive it with an in-memory organization under tokio's paused clock.
//!
//! Its progress (accounts listed, judged and left, the rate and the time left) is drawn as a
//! bar on a terminal or logged every few seconds elsewhere ([`Progress`]).

use crate::config::Config;
use crate::schedule::Clock;
pub use display::Progress;
use display::Shown;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use orgwatch_aws::carrier::Carrier;
use orgwatch_aws::{AccountsPage, AwsReads, OrgAccount, SdkSettings};
use orgwatch_core::controls::{self, Control};
use orgwatch_core::detect::DetectionCache;
use orgwatch_core::evaluate::{AdviceMode, AdviceWindow};
use orgwatch_core::finding::Advice;
use orgwatch_core::{Audit, Facts, Finding, Scope, Step, Unobserved, Waiver};
use orgwatch_store::{AccountRecord, DriftEvent, ScanStatus, StatusCounts, Store};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

/// What a scan did.
#[derive(Clone, Debug)]
pub struct ScanReport {
    pub scan_id: i64,
    pub status: ScanStatus,
    pub counts: StatusCounts,
    pub accounts_total: usize,
    pub accounts_judged: usize,
    pub duration: Duration,
    /// Time spent writing findings to SQLite (off the judging path).
    pub write_time: Duration,
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the organization's accounts could not be listed")]
    Organization(#[source] orgwatch_aws::AwsError),
    #[error("the database could not record the scan")]
    Store(#[from] orgwatch_store::StoreError),
}

/// The SDK settings a configuration asks for.
pub fn sdk_settings(config: &Config) -> SdkSettings {
    SdkSettings {
        region: config.aws.region.clone(),
        audit_role_name: config.organization.audit_role_name.clone(),
        external_id: config.organization.external_id.clone(),
        max_attempts: config.aws.max_attempts,
        operation_timeout: config.aws.operation_timeout,
        attempt_timeout: config.aws.attempt_timeout,
        session_duration: config.scan.account_timeout.saturating_add(Duration::from_secs(600)).max(Duration::from_secs(900)),
    }
}

fn audited(config: &Config, account: &OrgAccount) -> bool {
    let org = &config.organization;
    account.is_active() && (org.include_accounts.is_empty() || org.include_accounts.contains(&account.id)) && !org.exclude_accounts.contains(&account.id)
}

/// An account's findings, ready to be written.
struct Judged {
    account_id: String,
    findings: Vec<Finding>,
    at: chrono::DateTime<chrono::Utc>,
}

/// What the writer writes, in the order the scan sends it.
enum Write {
    /// The audited accounts of one page of the listing.
    Accounts(Vec<AccountRecord>),
    Findings(Judged),
}

/// The organization's members as listed so far. Accounts are judged while the listing goes
/// on, so a link owned by an account not listed yet waits for it (`Scope::members_complete`).
#[derive(Debug, Default)]
struct Members {
    listed: BTreeSet<String>,
    /// Every page was read.
    complete: bool,
    /// The listing ended early (an error or a shutdown): what is not listed will not be.
    stopped: bool,
}

/// How the listing of the organization is going.
struct Listing {
    members: watch::Sender<Members>,
    queue: VecDeque<OrgAccount>,
    /// Audited accounts listed so far.
    audited: usize,
    done: bool,
    error: Option<orgwatch_aws::AwsError>,
}

impl Listing {
    /// Takes one page: its accounts become members, the audited ones are queued and their
    /// records sent to the writer.
    fn admit(&mut self, config: &Config, page: AccountsPage, to_writer: &mpsc::UnboundedSender<Write>) {
        let last = page.next_token.is_none();
        let audited: Vec<OrgAccount> = page.accounts.iter().filter(|a| audited(config, a)).cloned().collect();
        self.members.send_modify(|m| {
            m.listed.extend(page.accounts.into_iter().map(|a| a.id));
            m.complete = last;
        });
        self.audited += audited.len();
        let records = audited.iter().map(|a| AccountRecord { account_id: a.id.clone(), account_name: a.name.clone(), state: a.state.clone() }).collect();
        let _ = to_writer.send(Write::Accounts(records));
        self.queue.extend(audited);
        if last {
            self.done = true;
            info!(accounts = self.audited, members = self.members.borrow().listed.len(), "Organization listed");
        }
    }

    /// No more pages will be read.
    fn stop(&mut self) {
        if !self.done {
            self.done = true;
            self.members.send_modify(|m| m.stopped = true);
        }
    }
}

/// Runs one scan. `shutdown` turning true stops new accounts from starting; accounts in
/// flight get `[scan] grace_period` to finish, then the scan is marked `interrupted`. A
/// finding that cannot be written stops new accounts too, and the scan is marked `failed`.
///
/// The organization is listed page by page while the accounts already listed are judged, so
/// a scan of ten thousand accounts does not wait for five hundred pages before it starts.
///
/// Its progress is logged every five seconds; [`run_scan_showing`] shows it elsewhere.
pub async fn run_scan<R: AwsReads>(reads: &R, store: &Store, config: &Config, clock: &dyn Clock, shutdown: watch::Receiver<bool>) -> Result<ScanReport, ScanError> {
    run_scan_showing(reads, store, config, clock, shutdown, Progress::Log).await
}

/// [`run_scan`], its progress shown in `progress`: a bar is cleared when the scan ends, however
/// it ends.
pub async fn run_scan_showing<R: AwsReads>(
    reads: &R,
    store: &Store,
    config: &Config,
    clock: &dyn Clock,
    mut shutdown: watch::Receiver<bool>,
    progress: Progress,
) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let scan_id = store.begin_scan(clock.now()).await?;
    let span = info_span!("scan", scan_id);
    async move {
        let mut shown = Shown::start(progress, started);
        info!(concurrency = config.scan.concurrency, controls = config.scan.controls.len(), "Scan started");
        // The organization and the first page of its accounts together.
        let (organization, first) = match tokio::join!(reads.describe_organization(), reads.list_accounts_page(None)) {
            (Ok(organization), Ok(first)) => {
                info!(
                    organization_id = organization.id.as_deref().unwrap_or("unknown"),
                    management_account = organization.management_account_id.as_deref().unwrap_or("unknown"),
                    "Organization found"
                );
                (organization, first)
            }
            (Err(e), _) | (_, Err(e)) => {
                let message = format!("the organization's accounts could not be listed: {e}");
                store.finish_scan(scan_id, ScanStatus::Failed, Some(&message), clock.now()).await?;
                error!(error = %e, "Scan failed: the organization could not be listed");
                return Err(ScanError::Organization(e));
            }
        };
        let selected: Vec<&'static Control> = config.scan.controls.iter().filter_map(|id| controls::find(id)).collect();
        // Advice is measured at most once per `[advice] every`; the scans between carry it.
        let advice = if config.advice.due(store.last_advice_scan().await?, clock.now()) {
            store.mark_advice_scan(scan_id, config.advice.window_days).await?;
            info!(window_days = config.advice.window_days, "This scan measures the passing chains' alarms and their topics' deliveries");
            Some(AdviceWindow::ending(clock.now(), config.advice.window_days, config.advice.noisy_per_day))
        } else {
            None
        };
        // The last advice is read through a connection of its own, so that the reads of the
        // accounts starting never queue behind the writer's transactions, nor hold them up.
        let carrying = if config.advice.enabled && advice.is_none() {
            match store.reader().await {
                Ok(reader) => Some(reader),
                Err(e) => {
                    warn!(error = %orgwatch_core::error_chain(&e), "A second connection to the database could not be opened; the last advice is read through the writer's");
                    Some(store.clone())
                }
            }
        } else {
            None
        };

        // One writer, off the judging path: accounts and findings are written in the order
        // they come, whatever has arrived meanwhile in one transaction.
        let (to_writer, written) = mpsc::unbounded_channel::<Write>();
        let write_failed = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write_findings(store.clone(), scan_id, written, write_failed.clone()));

        let mut listing = Listing { members: watch::channel(Members::default()).0, queue: VecDeque::new(), audited: 0, done: false, error: None };
        let mut pages = std::pin::pin!(futures::stream::unfold(first.next_token.clone(), |token| async move {
            let page = reads.list_accounts_page(Some(token?)).await;
            let next = page.as_ref().ok().and_then(|p| p.next_token.clone());
            Some((page, next))
        }));
        listing.admit(config, first, &to_writer);
        shown.listed(listing.audited, listing.done);

        // A role is assumed again before it could expire during an account's judgement.
        let session = sdk_settings(config).session_duration;
        let carrier = Carrier::new(reads).refresh_sessions_after(session.saturating_sub(config.scan.account_timeout));
        let detections = DetectionCache::new();
        let mut in_flight = FuturesUnordered::new();
        let mut interrupted = *shutdown.borrow();
        let mut grace_deadline: Option<Instant> = None;
        loop {
            let stopping = interrupted || write_failed.load(Ordering::Relaxed) || listing.error.is_some();
            if stopping {
                listing.stop();
            }
            shown.listed(listing.audited, listing.done);
            // A database that cannot take findings stops new accounts: their work would be lost.
            while !stopping && in_flight.len() < config.scan.concurrency {
                let Some(account) = listing.queue.pop_front() else { break };
                let judge = Judge {
                    account_id: account.id,
                    controls: &selected,
                    region: &config.aws.region,
                    organization_id: organization.id.as_deref(),
                    waivers: &config.waivers,
                    now: clock.now(),
                    detections: &detections,
                    advice,
                    carried: None,
                };
                let members = listing.members.subscribe();
                let carrier = &carrier;
                let carrying = carrying.as_ref();
                in_flight.push(async move {
                    let mut judge = judge;
                    if let Some(reader) = carrying {
                        match reader.latest_advice(&judge.account_id).await {
                            Ok(carried) => judge.carried = Some(carried),
                            Err(e) => warn!(account_id = %judge.account_id, error = %orgwatch_core::error_chain(&e), "The account's last advice could not be read; it is judged without it"),
                        }
                    }
                    judge_account(carrier, judge, members, config.scan.account_timeout).await
                });
            }
            if in_flight.is_empty() && (listing.done || stopping) {
                break;
            }
            let deadline = grace_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
            tokio::select! {
                Some((account_id, findings)) = in_flight.next() => {
                    carrier.release(&account_id);
                    shown.judged();
                    for f in &findings {
                        debug!(account_id = %f.account_id, control_id = %f.control_id, status = %f.status, reason = %f.reason, "Finding");
                    }
                    let _ = to_writer.send(Write::Findings(Judged { account_id, findings, at: clock.now() }));
                }
                page = pages.next(), if !listing.done => match page {
                    Some(Ok(page)) => listing.admit(config, page, &to_writer),
                    Some(Err(e)) => {
                        error!(error = %e, listed = listing.audited, "The organization's listing failed: no new accounts start");
                        listing.error = Some(e);
                    }
                    None => listing.done = true,
                },
                Ok(_) = shutdown.wait_for(|stop| *stop), if !interrupted => {
                    interrupted = true;
                    grace_deadline = Some(Instant::now() + config.scan.grace_period);
                    warn!(in_flight = in_flight.len(), grace_seconds = config.scan.grace_period.as_secs(), "Shutdown requested: no new accounts start; accounts in flight may finish");
                    shown.stopping();
                }
                now = shown.tick() => shown.report(now),
                _ = tokio::time::sleep_until(deadline), if grace_deadline.is_some() => {
                    warn!(abandoned = in_flight.len(), "Grace period over: accounts still in flight are not judged in this scan");
                    break;
                }
            }
        }
        drop(shown);
        drop(in_flight);
        drop(to_writer);
        let writes = writer.await.unwrap_or_else(|e| Writes { error: Some(format!("the writer stopped: {e}")), ..Writes::default() });
        let (judged, write_error) = (writes.accounts, writes.error);

        let (status, error) = if let Some(e) = &listing.error {
            (ScanStatus::Failed, Some(format!("the organization's accounts could not be listed: {e}")))
        } else if let Some(e) = write_error {
            (ScanStatus::Failed, Some(format!("findings could not be written: {e}")))
        } else if interrupted || judged < listing.audited {
            (ScanStatus::Interrupted, Some(format!("interrupted after {judged} of {} accounts", listing.audited)))
        } else {
            (ScanStatus::Completed, None)
        };
        let counts = store.finish_scan(scan_id, status, error.as_deref(), clock.now()).await?;
        if let Some(e) = listing.error {
            return Err(ScanError::Organization(e));
        }
        let drift = if status == ScanStatus::Completed { store.drift_of_scan(scan_id).await? } else { Vec::new() };
        let report =
            ScanReport { scan_id, status, counts, accounts_total: listing.audited, accounts_judged: judged, duration: started.elapsed(), write_time: writes.time, drift };
        info!(
            status = status.as_str(),
            accounts = judged,
            pass = counts.pass,
            fail = counts.fail,
            error = counts.error,
            not_applicable = counts.not_applicable,
            seconds = report.duration.as_secs_f64(),
            write_seconds = report.write_time.as_secs_f64(),
            "Scan finished"
        );
        Ok(report)
    }
    .instrument(span)
    .await
}

/// What the writer did.
#[derive(Debug, Default)]
struct Writes {
    /// Accounts whose findings were written.
    accounts: usize,
    time: Duration,
    /// The first write that failed; later accounts are still tried.
    error: Option<String>,
}

/// Most accounts written in one transaction.
const WRITE_BATCH: usize = 256;

/// How long the writer waits for more accounts after the first of a batch: a transaction for
/// several accounts costs little more than one for each (at ten thousand accounts, one per
/// account spent more CPU in SQLite than judging the whole family did).
const WRITE_LINGER: Duration = Duration::from_millis(50);

/// Writes accounts and findings as they come, batching what has queued up meanwhile.
async fn write_findings(store: Store, scan_id: i64, mut incoming: mpsc::UnboundedReceiver<Write>, failed: Arc<AtomicBool>) -> Writes {
    let mut writes = Writes::default();
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while incoming.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let deadline = Instant::now() + WRITE_LINGER;
        while batch.len() < WRITE_BATCH {
            let room = WRITE_BATCH - batch.len();
            match tokio::time::timeout_at(deadline, incoming.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let started = Instant::now();
        let mut records = Vec::new();
        let mut judged = Vec::new();
        for write in batch.drain(..) {
            match write {
                Write::Accounts(page) => records.extend(page),
                Write::Findings(j) => judged.push(j),
            }
        }
        let mut fail = |what: &str, e: &orgwatch_store::StoreError| {
            error!(what, error = %orgwatch_core::error_chain(e), "Could not write to the database");
            writes.error.get_or_insert_with(|| orgwatch_core::error_chain(e));
            failed.store(true, Ordering::Relaxed);
        };
        if !records.is_empty()
            && let Err(e) = store.record_accounts(scan_id, &records).await
        {
            fail("accounts", &e);
        }
        if !judged.is_empty() {
            let rows: Vec<(&[Finding], chrono::DateTime<chrono::Utc>)> = judged.iter().map(|j| (j.findings.as_slice(), j.at)).collect();
            match store.record_findings_batch(scan_id, &rows).await {
                Ok(()) => writes.accounts += judged.len(),
                Err(e) => {
                    let accounts: Vec<&str> = judged.iter().map(|j| j.account_id.as_str()).collect();
                    fail(&format!("findings of {}", accounts.join(",")), &e);
                }
            }
        }
        writes.time += started.elapsed();
    }
    writes
}

/// What judging one account takes, apart from the members listed so far.
struct Judge<'a> {
    account_id: String,
    controls: &'a [&'static Control],
    region: &'a str,
    /// For `aws:SourceOrgID` in the policies of the chain's last hops.
    organization_id: Option<&'a str>,
    waivers: &'a [Waiver],
    now: chrono::DateTime<chrono::Utc>,
    detections: &'a DetectionCache,
    /// The window measured, on the scan that gathers advice.
    advice: Option<AdviceWindow>,
    /// On the other scans, the account's last advice, carried on.
    carried: Option<BTreeMap<String, Advice>>,
}

impl Judge<'_> {
    fn audit<'m>(&'m self, members: &'m Members) -> Audit<'m> {
        Audit {
            account_id: &self.account_id,
            controls: self.controls,
            scope: Scope { region: self.region, members: &members.listed, members_complete: members.complete, organization_id: self.organization_id },
            waivers: self.waivers,
            now: self.now,
            detections: self.detections,
            advice: match (&self.advice, &self.carried) {
                (Some(window), _) => AdviceMode::Gather(*window),
                (None, Some(carried)) => AdviceMode::Carry(carried),
                (None, None) => AdviceMode::Off,
            },
        }
    }
}

/// Most rounds a judgement may take: far more than any chain's links need, so this only stops
/// a loop.
const MAX_ROUNDS: usize = 32;

/// Judges one account: asks the core, carries out every read it needs at once, and asks
/// again; when the core waits for a link's owner to be listed, waits for the listing. Out of
/// time (`[scan] account_timeout`), it concludes from what it has.
async fn judge_account<R: AwsReads>(carrier: &Carrier<'_, R>, judge: Judge<'_>, mut members: watch::Receiver<Members>, timeout: Duration) -> (String, Vec<Finding>) {
    let account_id = judge.account_id.clone();
    let mut facts = Facts::new();
    let conversation = async {
        let mut rounds = 0;
        loop {
            let step = judge.audit(&members.borrow_and_update()).step(&facts);
            let needs = match step {
                Step::Done(findings) => return Ok(findings),
                Step::Need(needs) => needs,
            };
            if needs.is_empty() {
                // A link's owner is not listed yet (no lock is held across the wait).
                let stopped = members.borrow().stopped;
                if stopped || members.changed().await.is_err() {
                    return Err(Unobserved::api_error("organizations:ListAccounts", "the organization's listing stopped before the account owning a link was listed"));
                }
                continue;
            }
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(Unobserved::api_error("collection", format!("no verdict after {MAX_ROUNDS} rounds of reads")));
            }
            if let Some(repeat) = needs.iter().find(|n| facts.get(&n.request).is_some()) {
                return Err(Unobserved::api_error(repeat.request.operation(), "asked for again after it was answered"));
            }
            // Every read of the round at once; each answer is kept as it comes, so a round cut
            // short by the timeout still counts what it learnt.
            let requester = judge.account_id.as_str();
            let mut round: FuturesUnordered<_> = needs
                .into_iter()
                .map(|need| async move {
                    let answer = carrier.fetch(requester, &need).await;
                    (need.request, answer)
                })
                .collect();
            while let Some((request, answer)) = round.next().await {
                facts.insert(request, answer);
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, conversation).await;
    let conclude = |unobserved: &Unobserved| judge.audit(&members.borrow()).conclude(&facts, unobserved);
    let findings = match outcome {
        Ok(Ok(findings)) => findings,
        Ok(Err(unobserved)) => {
            error!(account_id, reason = %unobserved.message, "The judgement did not converge");
            conclude(&unobserved)
        }
        Err(_) => {
            warn!(account_id, seconds = timeout.as_secs(), "Account judgement timed out");
            conclude(&Unobserved::api_error("collection", format!("timed out after {} s", timeout.as_secs())))
        }
    };
    (account_id, findings)
}

mod display;
mod progress;
#[cfg(test)]
mod tests;
