//! One scan of the organization: list the accounts, collect each with bounded parallelism,
//! judge every control, and write each account's findings as soon as it is judged.

use crate::config::Config;
use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use orgwatch_aws::{Collector, CollectorSettings, OrgAccount};
use orgwatch_core::controls::{self, Control};
use orgwatch_core::{AccountFacts, Finding, OrgView, evaluate};
use orgwatch_store::{AccountRecord, DriftEvent, ScanStatus, StatusCounts, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
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
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the organization's accounts could not be listed: {0}")]
    Organization(#[source] orgwatch_aws::AwsError),
    #[error("the database could not record the scan: {0}")]
    Store(#[from] orgwatch_store::StoreError),
}

/// The collector settings a configuration asks for.
pub fn collector_settings(config: &Config) -> CollectorSettings {
    CollectorSettings {
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

/// Runs one scan. `shutdown` turning true stops new accounts from starting; accounts in
/// flight get `[scan] grace_period` to finish, then the scan is marked `interrupted`.
pub async fn run_scan(collector: &Collector, store: &Store, config: &Config, mut shutdown: watch::Receiver<bool>) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let scan_id = store.begin_scan(Utc::now()).await?;
    let span = info_span!("scan", scan_id);
    async move {
        info!(concurrency = config.scan.concurrency, controls = config.scan.controls.len(), "Scan started");
        let organization = match collector.list_organization().await {
            Ok(org) => org,
            Err(e) => {
                let message = e.to_string();
                store.finish_scan(scan_id, ScanStatus::Failed, Some(&message), Utc::now()).await?;
                error!(error = %message, "Scan failed: the organization could not be listed");
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

        // The management account owns the organization trails that members are judged
        // through, so it is collected first — even when it is not itself audited.
        let mut shared: BTreeMap<String, Arc<AccountFacts>> = BTreeMap::new();
        let mut interrupted = *shutdown.borrow();
        if let Some(management) = organization.management_account_id.as_deref().filter(|m| members.contains(*m))
            && !interrupted {
                let facts = tokio::select! {
                    facts = collect_with_timeout(collector, management, &selected, config.scan.account_timeout) => Some(facts),
                    Ok(_) = shutdown.wait_for(|stop| *stop) => None,
                };
                match facts {
                    Some(facts) => {
                        shared.insert(management.to_owned(), Arc::new(facts));
                    }
                    None => interrupted = true,
                }
            }
        let shared = Arc::new(shared);

        let mut queue = accounts.iter();
        let mut in_flight = FuturesUnordered::new();
        let mut judged = 0usize;
        let mut write_errors = Vec::new();
        let mut grace_deadline: Option<tokio::time::Instant> = None;
        loop {
            while !interrupted && in_flight.len() < config.scan.concurrency {
                let Some(account) = queue.next() else { break };
                in_flight.push(judge_account(collector, store, config, scan_id, account, &members, shared.clone(), &selected));
            }
            if in_flight.is_empty() {
                break;
            }
            let deadline = grace_deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
            tokio::select! {
                done = in_flight.next() => {
                    match done {
                        Some(Ok(())) => judged += 1,
                        Some(Err(e)) => write_errors.push(e),
                        None => {}
                    }
                }
                Ok(_) = shutdown.wait_for(|stop| *stop), if !interrupted => {
                    interrupted = true;
                    grace_deadline = Some(tokio::time::Instant::now() + config.scan.grace_period);
                    warn!(in_flight = in_flight.len(), grace_seconds = config.scan.grace_period.as_secs(), "Shutdown requested: no new accounts start; accounts in flight may finish");
                }
                _ = tokio::time::sleep_until(deadline), if grace_deadline.is_some() => {
                    warn!(abandoned = in_flight.len(), "Grace period over: accounts still in flight are not judged in this scan");
                    break;
                }
            }
        }
        drop(in_flight);

        let (status, error) = if let Some(e) = write_errors.first() {
            (ScanStatus::Failed, Some(format!("{} account(s) could not be written: {e}", write_errors.len())))
        } else if interrupted || judged < accounts.len() {
            (ScanStatus::Interrupted, Some(format!("interrupted after {judged} of {} accounts", accounts.len())))
        } else {
            (ScanStatus::Completed, None)
        };
        let counts = store.finish_scan(scan_id, status, error.as_deref(), Utc::now()).await?;
        let drift = if status == ScanStatus::Completed { store.drift_of_scan(scan_id).await? } else { Vec::new() };
        let report = ScanReport { scan_id, status, counts, accounts_total: accounts.len(), accounts_judged: judged, duration: started.elapsed(), drift };
        info!(
            status = status.as_str(),
            accounts = judged,
            pass = counts.pass,
            fail = counts.fail,
            error = counts.error,
            not_applicable = counts.not_applicable,
            seconds = report.duration.as_secs_f64(),
            "Scan finished"
        );
        Ok(report)
    }
    .instrument(span)
    .await
}

async fn collect_with_timeout(collector: &Collector, account_id: &str, controls: &[&Control], timeout: Duration) -> AccountFacts {
    match tokio::time::timeout(timeout, collector.collect_account(account_id, controls)).await {
        Ok(facts) => facts,
        Err(_) => {
            warn!(account_id, seconds = timeout.as_secs(), "Account collection timed out");
            orgwatch_aws::timed_out(account_id, timeout)
        }
    }
}

/// Collects, judges and stores one account; only a database failure is an error here.
#[allow(clippy::too_many_arguments)]
async fn judge_account(
    collector: &Collector,
    store: &Store,
    config: &Config,
    scan_id: i64,
    account: &OrgAccount,
    members: &BTreeSet<String>,
    shared: Arc<BTreeMap<String, Arc<AccountFacts>>>,
    controls: &[&'static Control],
) -> Result<(), orgwatch_store::StoreError> {
    let facts = match shared.get(&account.id) {
        Some(facts) => facts.clone(),
        None => Arc::new(collect_with_timeout(collector, &account.id, controls, config.scan.account_timeout).await),
    };
    let mut view_facts: BTreeMap<String, Arc<AccountFacts>> = shared.as_ref().clone();
    view_facts.insert(account.id.clone(), facts);
    let view = OrgView { members, facts: &view_facts };
    let now = Utc::now();
    let findings: Vec<Finding> = controls.iter().map(|c| evaluate(c, &account.id, view, &config.waivers, now)).collect();
    for f in &findings {
        debug!(account_id = %f.account_id, control_id = %f.control_id, status = %f.status, reason = %f.reason, "Finding");
    }
    store.record_findings(scan_id, &findings, now).await.inspect_err(|e| error!(account_id = %account.id, error = %e, "Findings could not be written"))
}

/// Builds the collector the configuration asks for from the standard AWS environment.
pub async fn collector(config: &Config) -> Collector {
    Collector::new(collector_settings(config)).await
}
