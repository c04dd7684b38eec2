//! `orgwatch report` and the daemon's pages: the posture as a person looks at it.
//!
//! - [`file`]: one self-contained HTML file (`orgwatch report > posture.html`): styles, charts
//!   (SVG) and a search box inside it, a Content-Security-Policy that lets it request nothing,
//!   and every account's findings, with the chain drawn link by link for each cause that keeps
//!   a control from passing (the other controls failing for the same reason at the same kind
//!   of link are listed under it).
//! - [`index`] and [`account`]: the daemon's `/` (the same overview, the accounts a page at a
//!   time, searched on the server) and `/accounts/{id}` (every finding's chain). No script.
//!
//! Templates are minijinja's, escaping every value (account names, messages, patterns: account
//! owners write them); the charts are drawn by [`charts`] from orgwatch's own labels only.

pub mod charts;

use crate::config::Config;
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value, context};
use orgwatch_core::finding::{Evidence, EvidenceLink, LinkKind, Reason};
use orgwatch_store::{AccountRow, Overview, ReportVersion, Store, StoreError, StoredLatest};
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Accounts a page of the daemon's `/` shows.
pub const ACCOUNTS_PAGE: i64 = 100;

/// The Content-Security-Policy of every page: nothing but the page itself (its inline styles,
/// its inline SVG; the file's search box is its one inline script).
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The file's search box: it shows the accounts' rows whose id or name holds what is typed.
/// Without it (scripts off), every row shows.
const SEARCH_SCRIPT: &str = include_str!("report/search.js");

/// The file's policy: its styles, and its one script by hash, so that no other script runs
/// whatever a value holds.
fn file_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(SEARCH_SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the database could not be read")]
    Store(#[from] StoreError),
    #[error("the page could not be rendered")]
    Template(#[from] minijinja::Error),
    #[error("{0}")]
    Nothing(String),
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Names ending in .html are escaped for HTML: every value, unless marked safe (the charts).
        for (name, source) in [
            ("layout.html", include_str!("report/templates/layout.html")),
            ("macros.html", include_str!("report/templates/macros.html")),
            (
                "overview.html",
                include_str!("report/templates/overview.html"),
            ),
            ("file.html", include_str!("report/templates/file.html")),
            ("index.html", include_str!("report/templates/index.html")),
            (
                "account.html",
                include_str!("report/templates/account.html"),
            ),
        ] {
            if let Err(e) = env.add_template(name, source) {
                // The templates are part of the binary; a broken one is caught by the tests.
                tracing::error!(template = name, error = %e, "A page template does not parse");
            }
        }
        env
    })
}

/// One link of a chain as drawn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkView {
    pub kind: &'static str,
    pub label: &'static str,
    pub id: String,
    /// The account the link lives in, when the evidence names it.
    pub account_id: Option<String>,
    /// It lives in another account than the one audited.
    pub elsewhere: bool,
    pub region: Option<String>,
    pub detail: Option<String>,
    /// The link the finding's reason blames.
    pub broken: bool,
}

/// A finding as drawn: its chain, with the broken link marked or the missing one named.
#[derive(Clone, Debug, Serialize)]
pub struct FindingView {
    pub account_id: String,
    pub control_id: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub observed_at: String,
    /// `None` when the evidence was not read (a passing finding in the file).
    pub links: Option<Vec<LinkView>>,
    /// The kind of link the reason blames when the chain has none of it (`alarm` for
    /// NO_ALARM_ON_METRIC): drawn as the missing link.
    pub missing: Option<&'static str>,
    pub notes: Vec<String>,
    /// On an ERROR: the read that could not be made (`cloudwatch:DescribeAlarms in 111…`).
    pub unseen: Option<String>,
    /// In the file: the account's other controls that fail for the same reason at the same
    /// kind of link, listed under this one's chain.
    pub also: Vec<AlsoView>,
}

/// Another control's finding drawn under the first one of its cause.
#[derive(Clone, Debug, Serialize)]
pub struct AlsoView {
    pub control_id: String,
    pub message: String,
    /// Its chain breaks at the very link drawn broken above (a shared topic policy or key).
    pub same_link: bool,
}

impl FindingView {
    fn broken_link(&self) -> Option<&LinkView> {
        self.links.as_ref()?.iter().find(|l| l.broken)
    }

    /// Whether `other` fails for the same reason at the same kind of link (or misses the same
    /// kind), with the same notes and the same unread call: then the file draws only this
    /// finding's chain, and names `other` with its message beneath it. `Some(true)` when it
    /// breaks at the very same link.
    fn same_cause(&self, other: &FindingView) -> Option<bool> {
        if self.status == "PASS" || (&self.status, &self.reason, &self.missing, &self.notes, &self.unseen) != (&other.status, &other.reason, &other.missing, &other.notes, &other.unseen) {
            return None;
        }
        match (self.broken_link(), other.broken_link()) {
            (Some(a), Some(b)) if a.kind == b.kind => Some(a == b),
            (None, None) => Some(self.links == other.links),
            _ => None,
        }
    }
}

/// An account's findings for the file: the passing ones as they are (the file names their
/// controls only), and each cause once: the first finding it breaks, drawn with its chain,
/// then the account's other controls that fail for the same reason at the same kind of link,
/// each with its message. A topic policy that breaks the whole family, or fifteen alarms with
/// their actions off, is one drawing and a list, not fifteen drawings.
fn grouped(findings: Vec<FindingView>) -> Vec<FindingView> {
    let mut out: Vec<FindingView> = Vec::with_capacity(findings.len());
    for f in findings {
        match out.iter_mut().find_map(|g| g.same_cause(&f).map(|same_link| (g, same_link))) {
            Some((group, same_link)) => group.also.push(AlsoView { control_id: f.control_id, message: f.message, same_link }),
            None => out.push(f),
        }
    }
    out
}

/// What a person calls a kind of link.
pub fn link_label(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Account => "Account",
        LinkKind::Trail => "CloudTrail trail",
        LinkKind::LogGroup => "Log group",
        LinkKind::MetricFilter => "Metric filter",
        LinkKind::Metric => "Metric",
        LinkKind::Alarm => "Alarm",
        LinkKind::CompositeAlarm => "Composite alarm",
        LinkKind::Topic => "SNS topic",
        LinkKind::Subscription => "Subscription",
        LinkKind::TopicPolicy => "Topic policy",
        LinkKind::KmsKey => "KMS key",
        LinkKind::KeyPolicy => "Key policy",
        LinkKind::AlarmHistory => "Alarm history",
        LinkKind::TopicDelivery => "Topic deliveries",
        LinkKind::Waiver => "Waiver",
    }
}

/// The drawing of a stored finding: its links in the evidence's order, the last one of a kind
/// its reason blames marked broken, or that kind named missing when the chain has none.
pub fn finding_view(stored: &StoredLatest) -> FindingView {
    let reason = Reason::ALL
        .iter()
        .copied()
        .find(|r| r.as_str() == stored.reason);
    let evidence: Option<Evidence> = stored
        .evidence
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok());
    let mut view = FindingView {
        account_id: stored.account_id.clone(),
        control_id: stored.control_id.clone(),
        status: stored.status.clone(),
        reason: stored.reason.clone(),
        message: stored.message.clone(),
        observed_at: stored.observed_at.clone(),
        links: None,
        missing: None,
        notes: Vec::new(),
        unseen: None,
        also: Vec::new(),
    };
    let Some(evidence) = evidence else {
        return view;
    };
    let blamed = reason.map_or(&[][..], Reason::blamed_links);
    let broken = if stored.status == "PASS" {
        None
    } else {
        evidence
            .links
            .iter()
            .rposition(|l| blamed.contains(&l.kind))
    };
    let link = |(i, l): (usize, &EvidenceLink)| LinkView {
        kind: l.kind.as_str(),
        label: link_label(l.kind),
        id: l.id.clone(),
        account_id: l.account_id.clone(),
        elsewhere: l
            .account_id
            .as_deref()
            .is_some_and(|a| a != stored.account_id),
        region: l.region.clone(),
        detail: l.detail.clone(),
        broken: broken == Some(i),
    };
    view.links = Some(evidence.links.iter().enumerate().map(link).collect());
    if broken.is_none() && stored.status != "PASS" {
        view.missing = blamed.first().map(|k| link_label(*k));
    }
    view.notes = evidence.notes;
    view.unseen = evidence
        .unseen
        .map(|u| format!("{} in account {}", u.operation, u.account_id));
    view
}

/// The overview's values for the templates: the store's, with the charts drawn and the
/// controls' legend.
fn overview_context(overview: &Overview) -> Value {
    let controls: Vec<String> = overview
        .posture
        .iter()
        .map(|p| p.control_id.clone())
        .collect();
    let chart = |drawn: charts::Drawn| match drawn {
        Ok(svg) => context! { svg => Value::from_safe_string(svg) },
        Err(e) => context! { error => e },
    };
    let legend: Vec<Value> = controls
        .iter()
        .enumerate()
        .map(|(n, c)| context! { control => c, colour => charts::series_colour(n).1 })
        .collect();
    let mut reasons: BTreeMap<String, Vec<&orgwatch_store::ReasonCount>> = BTreeMap::new();
    for r in &overview.reasons {
        reasons.entry(r.control_id.clone()).or_default().push(r);
    }
    let latest_accounts = overview.latest_scan.as_ref().map_or(0, |s| s.accounts);
    context! {
        overview => Value::from_serialize(overview),
        reasons_by_control => Value::from_serialize(&reasons),
        latest_accounts => latest_accounts,
        posture_chart => if overview.posture.is_empty() { Value::UNDEFINED } else { chart(charts::posture_now(&overview.posture)) },
        history_chart => if overview.history.is_empty() { Value::UNDEFINED } else { chart(charts::posture_over_time(&overview.history, &controls)) },
        history_scans => charts::scans_of(&overview.history).len(),
        drift_chart => if overview.drift_by_scan.is_empty() { Value::UNDEFINED } else { chart(charts::drift(&overview.drift_by_scan)) },
        legend => legend,
    }
}

/// An account of the file: its row and its findings.
#[derive(Serialize)]
struct AccountSection {
    account_id: String,
    account_name: Option<String>,
    pass: i64,
    fail: i64,
    error: i64,
    not_applicable: i64,
    findings: Vec<FindingView>,
}

/// The self-contained report over the history since `since`; `config_path` is the one the
/// file's `orgwatch fix` commands name.
pub async fn file(
    store: &Store,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    config_path: &str,
) -> Result<String, ReportError> {
    let overview = store.report_overview(since).await?;
    let accounts = store.report_accounts().await?;
    let mut findings: BTreeMap<String, Vec<FindingView>> = BTreeMap::new();
    for stored in store.report_findings(None).await? {
        findings
            .entry(stored.account_id.clone())
            .or_default()
            .push(finding_view(&stored));
    }
    let sections: Vec<AccountSection> = accounts
        .into_iter()
        .map(|a: AccountRow| AccountSection {
            findings: grouped(findings.remove(&a.account_id).unwrap_or_default()),
            account_id: a.account_id,
            account_name: a.account_name,
            pass: a.pass,
            fail: a.fail,
            error: a.error,
            not_applicable: a.not_applicable,
        })
        .collect();
    let template = environment().get_template("file.html")?;
    Ok(template.render(context! {
        policy => file_policy(),
        script => Value::from_safe_string(SEARCH_SCRIPT.to_owned()),
        generated_at => now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        since => since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        config_path => config_path,
        accounts => Value::from_serialize(&sections),
        ..overview_context(&overview)
    })?)
}

/// What the daemon's `/` read last: the overview and every account's row, kept while the
/// database's [`ReportVersion`] for the same window stays the same, so that a page, a search or
/// the next request reads a few indexed values instead of every finding (about 3 s at 10,000
/// accounts and fifteen controls). A request that finds it stale reads again, and the others
/// wait for that read rather than making their own.
#[derive(Default)]
pub struct PageCache {
    last: tokio::sync::Mutex<Option<(ReportVersion, Arc<(Overview, Vec<AccountRow>)>)>>,
}

impl PageCache {
    async fn read(&self, store: &Store, since: DateTime<Utc>) -> Result<Arc<(Overview, Vec<AccountRow>)>, ReportError> {
        let mut last = self.last.lock().await;
        let version = store.report_version(since).await?;
        if let Some((kept, read)) = last.as_ref()
            && *kept == version
        {
            return Ok(read.clone());
        }
        let overview = store.report_overview(since).await?;
        let accounts = store.report_accounts().await?;
        let read = Arc::new((overview, accounts));
        *last = Some((version, read.clone()));
        Ok(read)
    }
}

/// Whether an account's id or name holds `lowercase` (a search already in lower case), whatever
/// the name's case.
fn holds(account: &AccountRow, lowercase: &str) -> bool {
    account.account_id.contains(lowercase) || account.account_name.as_deref().is_some_and(|n| n.to_lowercase().contains(lowercase))
}

/// The daemon's `/`: the overview and a page of the accounts (`page` from 1), those whose id or
/// name holds `search` when given.
pub async fn index(
    store: &Store,
    cache: &PageCache,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    search: Option<&str>,
    page: i64,
) -> Result<String, ReportError> {
    let read = cache.read(store, since).await?;
    let (overview, all) = &*read;
    let page = page.max(1);
    let lowercase = search.map(str::to_lowercase);
    let matching: Vec<&AccountRow> = all.iter().filter(|a| lowercase.as_deref().is_none_or(|q| holds(a, q))).collect();
    let total = matching.len() as i64;
    let start = usize::try_from((page - 1).saturating_mul(ACCOUNTS_PAGE)).unwrap_or(usize::MAX).min(matching.len());
    let accounts = &matching[start..(start + ACCOUNTS_PAGE as usize).min(matching.len())];
    let pages = (total + ACCOUNTS_PAGE - 1) / ACCOUNTS_PAGE;
    let template = environment().get_template("index.html")?;
    Ok(template.render(context! {
        generated_at => now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        since => since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        accounts => Value::from_serialize(&accounts),
        accounts_total => total,
        search => search.unwrap_or(""),
        page => page,
        pages => pages,
        ..overview_context(overview)
    })?)
}

/// The daemon's `/accounts/{id}`: every latest finding of the account with its chain; `None`
/// when the database holds no finding of it.
pub async fn account(
    store: &Store,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, ReportError> {
    let findings: Vec<FindingView> = store
        .report_findings(Some(account_id))
        .await?
        .iter()
        .map(finding_view)
        .collect();
    if findings.is_empty() {
        return Ok(None);
    }
    let name = store.account_name(account_id).await?;
    let template = environment().get_template("account.html")?;
    Ok(Some(template.render(context! {
        generated_at => now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        account_id => account_id,
        account_name => name,
        findings => Value::from_serialize(&findings),
    })?))
}

/// `orgwatch report`: the file on stdout; the time it took and its size on stderr's log.
pub async fn run(config: &Config, config_path: &str, since: DateTime<Utc>) -> ExitCode {
    let started = Instant::now();
    let result = async {
        let path = &config.store.path;
        if !path.exists() {
            return Err(ReportError::Nothing(format!(
                "no database at {}: run `orgwatch scan` first",
                path.display()
            )));
        }
        let store = Store::open_read_only(path).await?;
        let html = file(&store, since, Utc::now(), config_path).await;
        store.close().await;
        html
    }
    .await;
    match result {
        Ok(html) => {
            out!("{html}");
            eprintln!(
                "orgwatch report: {:.1} MiB rendered in {:.2} s",
                html.len() as f64 / (1024.0 * 1024.0),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", orgwatch_core::error_chain(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests;
