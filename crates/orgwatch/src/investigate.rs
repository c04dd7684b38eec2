//! `orgwatch investigate`: when a control's alarm fires, the CloudWatch Logs Insights queries
//! that list what it counted — each denied call with its time, principal, source IP, user agent,
//! event source and name, error code and message, then the calls grouped by principal. They run
//! on the log group and region the account's passing chain's metric filter is on, with the
//! filter's own condition ([`orgwatch_core::insights`]), and come with the `aws logs
//! start-query` that runs them. orgwatch does not run them itself: StartQuery is outside the
//! read-only audit role.
//!
//! Exit codes as `orgwatch fix`'s: 0 printed; 1 nothing to work from (no database, no passing
//! chain of the control in the account); 2 bad input.

use crate::config::Config;
use crate::fix::FixError;
use chrono::{DateTime, Utc};
use orgwatch_core::insights::{filter_clause, queries};
use orgwatch_core::pattern::FilterPattern;
use orgwatch_core::remediate::cli::quote;
use orgwatch_core::{Finding, LinkKind, Status, controls};
use orgwatch_store::Store;
use std::process::ExitCode;

/// Prints the queries; an error is printed once, with its exit code.
pub async fn run(config: &Config, account: &str, control: Option<&str>, since: DateTime<Utc>, now: DateTime<Utc>) -> ExitCode {
    match render(config, account, control, since, now).await {
        Ok(text) => {
            out!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", orgwatch_core::error_chain(&e));
            e.exit_code()
        }
    }
}

/// The queries for `account`'s passing chains (of `control` only, when given), from `since` to `now`.
pub async fn render(config: &Config, account: &str, control: Option<&str>, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<String, FixError> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FixError::Usage(format!("--account: {account:?} is not a 12-digit account id")));
    }
    if let Some(id) = control
        && controls::find(id).is_none()
    {
        return Err(FixError::Usage(format!("--control: unknown control {id:?}; run `orgwatch controls` for the list")));
    }
    let path = &config.store.path;
    if !path.exists() {
        return Err(FixError::Nothing(format!("no database at {}: run `orgwatch scan` first", path.display())));
    }
    let store = Store::open_read_only(path).await?;
    let table = store.latest_findings(None, Some(account)).await;
    store.close().await;
    let findings = crate::fix::findings(&table?).map_err(|e| FixError::Nothing(format!("a stored finding of account {account} cannot be read: {e}")))?;
    let passing: Vec<&Finding> = findings.iter().filter(|f| f.status == Status::Pass && control.is_none_or(|c| f.control_id == c)).collect();
    if passing.is_empty() {
        let what = control.map_or_else(|| "no control".to_owned(), |c| format!("control {c}"));
        return Err(FixError::Nothing(format!(
            "account {account} has no passing chain for {what} in the latest scan, so there is no metric filter to query by (see `orgwatch findings --account {account}`)"
        )));
    }
    let mut text = format!(
        "# orgwatch investigate for account {account}: CloudWatch Logs Insights queries of what each alarm counts, {} to {}.\n# orgwatch does not run them: logs:StartQuery is outside its read-only audit role. Run them with a role of the account that may.\n",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for finding in passing {
        text.push('\n');
        text.push_str(&section(finding, &config.aws.region, since, now));
    }
    Ok(text)
}

/// One control's queries, or why there are none.
fn section(finding: &Finding, default_region: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let links = &finding.evidence.links;
    let filter = links.iter().rev().find(|l| l.kind == LinkKind::MetricFilter);
    let group = links.iter().rev().find(|l| l.kind == LinkKind::LogGroup);
    let head = format!("# ==== {} ====\n", finding.control_id);
    let (Some(filter), Some(group)) = (filter, group) else {
        return format!("{head}# The finding's evidence names no metric filter and log group.\n");
    };
    let pattern_text = filter.detail.as_deref().unwrap_or_default();
    let name = group.attribute("name").map(str::to_owned).unwrap_or_else(|| group.id.clone());
    let region = group.region.as_deref().unwrap_or(default_region);
    let owner = group.account_id.as_deref().unwrap_or(&finding.account_id);
    let mut text = format!("{head}# Metric filter {:?} on log group {name} (account {owner}, {region}): {pattern_text}\n", filter.id);
    let clause = match FilterPattern::parse(pattern_text).map_err(|e| e.to_string()).and_then(|p| filter_clause(&p).map_err(|e| e.to_string())) {
        Ok(clause) => clause,
        Err(why) => {
            text.push_str(&format!("# No query: {why}.\n"));
            return text;
        }
    };
    let [events, principals] = queries(&clause);
    for (what, query) in [("Each call, newest first", events), ("The calls by principal", principals)] {
        text.push_str(&format!("# {what}:\n{query}\n"));
        text.push_str(&format!(
            "aws logs start-query --region {} --log-group-name {} --start-time {} --end-time {} --query-string {}\n",
            quote(region),
            quote(&name),
            since.timestamp(),
            now.timestamp(),
            quote(&query)
        ));
    }
    text.push_str("# Then: aws logs get-query-results --region REGION --query-id <the queryId it printed>\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgwatch_core::{Evidence, EvidenceLink, Reason};

    fn passing(pattern: &str) -> Finding {
        let links = vec![
            EvidenceLink::new(LinkKind::LogGroup, "arn:aws:logs:eu-west-1:111122223333:log-group:CloudTrail/org:*").in_account("111122223333").in_region("eu-west-1").with("name", "CloudTrail/org"),
            EvidenceLink::with_detail(LinkKind::MetricFilter, "cis-3.1", pattern).in_account("111122223333").in_region("eu-west-1"),
        ];
        Finding {
            account_id: "222233334444".into(),
            control_id: "unauthorized-api-calls".into(),
            status: Status::Pass,
            reason: Reason::Compliant,
            message: String::new(),
            evidence: Evidence { links, ..Evidence::default() },
        }
    }

    #[test]
    fn the_queries_run_on_the_filters_log_group_and_region_with_its_condition() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z").unwrap().to_utc();
        let since = now - chrono::Duration::hours(24);
        let text = section(&passing(r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#), "us-east-1", since, now);
        assert!(text.contains("| filter errorCode like /^.*UnauthorizedOperation$/ or errorCode like /^AccessDenied.*$/"), "{text}");
        assert!(text.contains("aws logs start-query --region eu-west-1 --log-group-name CloudTrail/org --start-time 1796212800 --end-time 1796299200 --query-string 'fields @timestamp"), "{text}");
        assert!(text.contains("by userIdentity.arn, userIdentity.type"), "{text}");
        // A pattern with a quote stays inside the shell's quoting.
        let text = section(&passing(r#"{ $.errorCode = "it's" }"#), "us-east-1", since, now);
        assert!(text.contains(r#"filter errorCode = "it'\''s""#), "{text}");
        // A pattern Insights cannot express exactly gets no query, and says why.
        let text = section(&passing(r#"{ $.a[*] = "x" }"#), "us-east-1", since, now);
        assert!(text.contains("# No query:") && !text.contains("start-query"), "{text}");
    }
}
