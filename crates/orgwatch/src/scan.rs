//! One scan of the organization: list the accounts, judge each with a bound on accounts in
//! flight, and write each account's findings as soon as it is judged.
//!
//! Judging an account is a conversation with the core: the core names the reads it needs,
//! every one of them goes out at once through the scan's [`Carrier`], the answers come back as
//! facts, and the core is asked again until it has its findings. The scan is generic over the
//! AWS reads ([`AwsReads`]) and takes its clock and its shutdown signal as arguments, so tests
//! drive it with an in-memory organization under tokio's paused clock.

use crate::config::Config;
use crate::schedule::Clock;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use orgwatch_aws::carrier::{Carrier, list_organization};
use orgwatch_aws::{AwsReads, OrgAccount, SdkSettings};
use orgwatch_core::controls::{self, Control};
use orgwatch_core::detect::DetectionCache;
use orgwatch_core::{Audit, Facts, Finding, Scope, Step, Unobserved};
use orgwatch_store::{AccountRecord, DriftEvent, ScanStatus, StatusCounts, Store};
use std::collections::BTreeSet;
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

/// Runs one scan. `shutdown` turning true stops new accounts from starting; accounts in
/// flight get `[scan] grace_period` to finish, then the scan is marked `interrupted`. A
/// finding that cannot be written stops new accounts too, and the scan is marked `failed`.
pub async fn run_scan<R: AwsReads>(reads: &R, store: &Store, config: &Config, clock: &dyn Clock, mut shutdown: watch::Receiver<bool>) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let scan_id = store.begin_scan(clock.now()).await?;
    let span = info_span!("scan", scan_id);
    async move {
        info!(concurrency = config.scan.concurrency, controls = config.scan.controls.len(), "Scan started");
        let organization = match list_organization(reads).await {
            Ok(org) => org,
            Err(e) => {
                let message = format!("the organization's accounts could not be listed: {e}");
                store.finish_scan(scan_id, ScanStatus::Failed, Some(&message), clock.now()).await?;
                error!(error = %e, "Scan failed: the organization could not be listed");
                return Err(ScanError::Organization(e));
            }
        };
        let members: BTreeSet<String> = organization.accounts.iter().map(|a| a.id.clone()).collect();
        let accounts: Vec<OrgAccount> = organization.accounts.iter().filter(|a| audited(config, a)).cloned().collect();
        let records: Vec<AccountRecord> =
            accounts.iter().map(|a| AccountRecord { account_id: a.id.clone(), account_name: a.name.clone(), state: a.state.clone() }).collect();
        store.record_accounts(scan_id, &records).await?;
        let selected: Vec<&'static Control> = config.scan.controls.iter().filter_map(|id| controls::find(id)).collect();
        info!(accounts = accounts.len(), members = members.len(), management_account = organization.management_account_id.as_deref().unwrap_or("unknown"), "Organization listed");

        // One writer, off the judging path: findings are written in the order accounts finish,
        // whatever has arrived meanwhile in one transaction.
        let (to_writer, written) = mpsc::unbounded_channel::<Judged>();
        let write_failed = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write_findings(store.clone(), scan_id, written, write_failed.clone()));

        // A role is assumed again before it could expire during an account's judgement.
        let session = sdk_settings(config).session_duration;
        let carrier = Carrier::new(reads).refresh_sessions_after(session.saturating_sub(config.scan.account_timeout));
        let detections = DetectionCache::new();
        let scope = Scope { region: &config.aws.region, members: &members };
        let mut queue = accounts.iter();
        let mut in_flight = FuturesUnordered::new();
        let mut interrupted = *shutdown.borrow();
        let mut grace_deadline: Option<Instant> = None;
        loop {
            // A database that cannot take findings stops new accounts: their work would be lost.
            while !interrupted && !write_failed.load(Ordering::Relaxed) && in_flight.len() < config.scan.concurrency {
                let Some(account) = queue.next() else { break };
                let audit = Audit { account_id: &account.id, controls: &selected, scope, waivers: &config.waivers, now: clock.now(), detections: &detections };
                in_flight.push(judge_account(&carrier, audit, config.scan.account_timeout));
            }
            if in_flight.is_empty() {
                break;
            }
            let deadline = grace_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
            tokio::select! {
                Some((account_id, findings)) = in_flight.next() => {
                    carrier.release(&account_id);
                    for f in &findings {
                        debug!(account_id = %f.account_id, control_id = %f.control_id, status = %f.status, reason = %f.reason, "Finding");
                    }
                    let _ = to_writer.send(Judged { account_id, findings, at: clock.now() });
                }
                Ok(_) = shutdown.wait_for(|stop| *stop), if !interrupted => {
                    interrupted = true;
                    grace_deadline = Some(Instant::now() + config.scan.grace_period);
                    warn!(in_flight = in_flight.len(), grace_seconds = config.scan.grace_period.as_secs(), "Shutdown requested: no new accounts start; accounts in flight may finish");
                }
                _ = tokio::time::sleep_until(deadline), if grace_deadline.is_some() => {
                    warn!(abandoned = in_flight.len(), "Grace period over: accounts still in flight are not judged in this scan");
                    break;
                }
            }
        }
        drop(in_flight);
        drop(to_writer);
        let writes = writer.await.unwrap_or_else(|e| Writes { error: Some(format!("the writer stopped: {e}")), ..Writes::default() });
        let (judged, write_error) = (writes.accounts, writes.error);

        let (status, error) = if let Some(e) = write_error {
            (ScanStatus::Failed, Some(format!("findings could not be written: {e}")))
        } else if interrupted || judged < accounts.len() {
            (ScanStatus::Interrupted, Some(format!("interrupted after {judged} of {} accounts", accounts.len())))
        } else {
            (ScanStatus::Completed, None)
        };
        let counts = store.finish_scan(scan_id, status, error.as_deref(), clock.now()).await?;
        let drift = if status == ScanStatus::Completed { store.drift_of_scan(scan_id).await? } else { Vec::new() };
        let report = ScanReport { scan_id, status, counts, accounts_total: accounts.len(), accounts_judged: judged, duration: started.elapsed(), write_time: writes.time, drift };
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

/// Writes judged accounts as they come, batching what has queued up meanwhile.
async fn write_findings(store: Store, scan_id: i64, mut judged: mpsc::UnboundedReceiver<Judged>, failed: Arc<AtomicBool>) -> Writes {
    let mut writes = Writes::default();
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while judged.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let started = Instant::now();
        let rows: Vec<(&[Finding], chrono::DateTime<chrono::Utc>)> = batch.iter().map(|j| (j.findings.as_slice(), j.at)).collect();
        match store.record_findings_batch(scan_id, &rows).await {
            Ok(()) => writes.accounts += batch.len(),
            Err(e) => {
                let accounts: Vec<&str> = batch.iter().map(|j| j.account_id.as_str()).collect();
                error!(accounts = %accounts.join(","), error = %orgwatch_core::error_chain(&e), "Findings could not be written");
                writes.error.get_or_insert_with(|| orgwatch_core::error_chain(&e));
                failed.store(true, Ordering::Relaxed);
            }
        }
        writes.time += started.elapsed();
        batch.clear();
    }
    writes
}

/// Most rounds a judgement may take; the chain has six links, so this only stops a loop.
const MAX_ROUNDS: usize = 32;

/// Judges one account: asks the core, carries out every read it needs at once, and asks
/// again. Out of time (`[scan] account_timeout`), it concludes from what it has.
async fn judge_account<R: AwsReads>(carrier: &Carrier<'_, R>, audit: Audit<'_>, timeout: Duration) -> (String, Vec<Finding>) {
    let account_id = audit.account_id.to_owned();
    let mut facts = Facts::new();
    let conversation = async {
        for _ in 0..MAX_ROUNDS {
            let needs = match audit.step(&facts) {
                Step::Done(findings) => return Ok(findings),
                Step::Need(needs) => needs,
            };
            if let Some(repeat) = needs.iter().find(|n| facts.get(&n.request).is_some()) {
                return Err(Unobserved::api_error(repeat.request.operation(), "asked for again after it was answered"));
            }
            // Every read of the round at once; each answer is kept as it comes, so a round cut
            // short by the timeout still counts what it learnt.
            let requester = audit.account_id;
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
        Err(Unobserved::api_error("collection", format!("no verdict after {MAX_ROUNDS} rounds of reads")))
    };
    let outcome = tokio::time::timeout(timeout, conversation).await;
    let findings = match outcome {
        Ok(Ok(findings)) => findings,
        Ok(Err(unobserved)) => {
            error!(account_id, reason = %unobserved.message, "The judgement did not converge");
            audit.conclude(&facts, &unobserved)
        }
        Err(_) => {
            warn!(account_id, seconds = timeout.as_secs(), "Account judgement timed out");
            audit.conclude(&facts, &Unobserved::api_error("collection", format!("timed out after {} s", timeout.as_secs())))
        }
    };
    (account_id, findings)
}

#[cfg(test)]
mod tests;
