//! Whether a filter pattern detects a control: judged by meaning, on the control's samples.

use crate::controls::{Control, Sample};
use crate::pattern::FilterPattern;

/// How a pattern fares against a control's samples.
#[derive(Debug)]
pub struct Detection<'c> {
    pub caught: Vec<&'c Sample>,
    pub missed: Vec<&'c Sample>,
    pub benign_matched: Vec<&'c Sample>,
    pub benign_total: usize,
}

impl Detection<'_> {
    /// The pattern catches every must-match event.
    pub fn detects(&self) -> bool {
        self.missed.is_empty()
    }

    /// The pattern also matches most ordinary events, so its alarm will be noise.
    pub fn over_broad(&self) -> bool {
        self.benign_matched.len() * 2 > self.benign_total
    }

    /// One line saying how the pattern fares, e.g. for a finding's note.
    pub fn summary(&self) -> String {
        let total = self.caught.len() + self.missed.len();
        let mut text = format!("catches {} of {} must-match events", self.caught.len(), total);
        if !self.missed.is_empty() {
            let missed: Vec<&str> = self.missed.iter().map(|s| s.description).collect();
            text.push_str(&format!(" (misses: {})", missed.join("; ")));
        }
        if self.over_broad() {
            text.push_str(&format!(
                "; over-broad: it also matches {} of {} benign events",
                self.benign_matched.len(),
                self.benign_total
            ));
        }
        text
    }
}

/// Runs the pattern over the control's corpora.
pub fn detect<'c>(pattern: &FilterPattern, control: &'c Control) -> Detection<'c> {
    let mut detection = Detection { caught: Vec::new(), missed: Vec::new(), benign_matched: Vec::new(), benign_total: control.benign.len() };
    for sample in &control.must_match {
        if pattern.matches(&sample.event) {
            detection.caught.push(sample);
        } else {
            detection.missed.push(sample);
        }
    }
    for sample in &control.benign {
        if pattern.matches(&sample.event) {
            detection.benign_matched.push(sample);
        }
    }
    detection
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls;

    fn check(control: &str, pattern: &str) -> (bool, bool) {
        let control = controls::find(control).unwrap();
        let d = detect(&FilterPattern::parse(pattern).unwrap(), control);
        (d.detects(), d.over_broad())
    }

    #[test]
    fn every_published_pattern_detects_its_own_control() {
        for control in controls::all() {
            assert!(!control.must_match.is_empty(), "{}", control.id);
            assert!(!control.benign.is_empty(), "{}", control.id);
            for published in &control.published_patterns {
                let pattern = FilterPattern::parse(&published.pattern)
                    .unwrap_or_else(|e| panic!("{} ({}): {e}", control.id, published.source));
                let d = detect(&pattern, control);
                assert!(d.detects(), "{} ({}): {}", control.id, published.source, d.summary());
            }
        }
    }

    #[test]
    fn no_published_pattern_but_the_cis_v1_4_one_for_3_1_is_over_broad() {
        for control in controls::all() {
            for published in &control.published_patterns {
                let d = detect(&FilterPattern::parse(&published.pattern).unwrap(), control);
                let expected = control.id == controls::UNAUTHORIZED_API_CALLS && published.source == "CIS v1.4";
                assert_eq!(d.over_broad(), expected, "{} ({}): {}", control.id, published.source, d.summary());
            }
        }
    }

    #[test]
    fn no_control_is_detected_by_another_controls_pattern() {
        for control in controls::all() {
            for other in controls::all().iter().filter(|o| o.id != control.id) {
                for published in &other.published_patterns {
                    let pattern = FilterPattern::parse(&published.pattern).unwrap();
                    if detect(&pattern, other).over_broad() {
                        continue; // matches nearly everything, so it "detects" everything
                    }
                    let d = detect(&pattern, control);
                    assert!(!d.detects(), "{}'s pattern ({}) detects {}", other.id, published.source, control.id);
                }
            }
        }
    }

    /// (control, pattern, detects, over-broad): meaning, not text.
    #[test]
    fn detection_judges_meaning_not_text() {
        let cases: &[(&str, &str, bool, bool)] = &[
            // clauses reordered, quotes dropped, whitespace and newlines changed: still detects
            ("unauthorized-api-calls", r#"{($.errorCode="AccessDenied*")||($.errorCode="*UnauthorizedOperation")}"#, true, false),
            ("unauthorized-api-calls", "{\n  $.errorCode = AccessDenied* ||\n  $.errorCode = *UnauthorizedOperation\n}", true, false),
            // && where || was meant: matches nothing
            ("unauthorized-api-calls", r#"{ ($.errorCode = "*UnauthorizedOperation") && ($.errorCode = "AccessDenied*") }"#, false, false),
            // half of the chain
            ("unauthorized-api-calls", r#"{ $.errorCode = "AccessDenied*" }"#, false, false),
            ("unauthorized-api-calls", r#"{ $.errorCode = "AccessDenied" || $.errorCode = "*UnauthorizedOperation" }"#, false, false),
            // a case change is a different value in CloudWatch
            ("unauthorized-api-calls", r#"{ ($.errorCode = "*unauthorizedoperation") || ($.errorCode = "accessdenied*") }"#, false, false),
            // text search catches the samples but also a benign message that mentions it
            ("unauthorized-api-calls", "?AccessDenied ?UnauthorizedOperation", true, false),
            // everything
            ("unauthorized-api-calls", "", true, true),
            ("unauthorized-api-calls", r#"{ $.eventVersion = * }"#, true, true),
            // a regex form
            ("unauthorized-api-calls", r#"{ $.errorCode = %^AccessDenied% || $.errorCode = %UnauthorizedOperation$% }"#, true, false),
            // root usage without the invokedBy guard still detects
            ("root-account-usage", r#"{ $.userIdentity.type = "Root" }"#, true, false),
            ("root-account-usage", r#"{ $.userIdentity.type = "root" }"#, false, false),
            // a list missing one call does not detect
            ("cloudtrail-configuration-changes", "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) }", false, false),
            ("cloudtrail-configuration-changes", "{ $.eventSource = cloudtrail.amazonaws.com && $.eventName != Describe* && $.eventName != Get* && $.eventName != List* }", true, false),
        ];
        for (control, pattern, detects, over_broad) in cases {
            assert_eq!(check(control, pattern), (*detects, *over_broad), "{control}: {pattern}");
        }
    }
}

/// What judging a pattern text against a control found, in words for findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The pattern does not parse; why, with the column.
    Unparsable(String),
    /// It parses; whether it detects the control, how it fares, and a note when it is over-broad.
    Judged { detects: bool, summary: String, over_broad: Option<String> },
}

/// Verdicts remembered by (control, pattern text): the same text judged against the same
/// control always gives the same verdict, and an organization deploys a handful of patterns in
/// thousands of accounts. Past [`DetectionCache::CAPACITY`] distinct entries (hostile or very
/// varied patterns), new verdicts are computed and not kept.
#[derive(Debug, Default)]
pub struct DetectionCache {
    /// By control id, then pattern text (looked up without copying the text).
    verdicts: std::sync::Mutex<std::collections::HashMap<&'static str, std::collections::HashMap<String, std::sync::Arc<Verdict>>>>,
}

impl DetectionCache {
    pub const CAPACITY: usize = 4096;

    pub fn new() -> Self {
        DetectionCache::default()
    }

    /// The verdict on `pattern` for `control`, judged once.
    pub fn verdict(&self, pattern: &str, control: &Control) -> std::sync::Arc<Verdict> {
        if let Some(found) = self.lock().get(control.id).and_then(|by_pattern| by_pattern.get(pattern)) {
            return found.clone();
        }
        let verdict = std::sync::Arc::new(match FilterPattern::parse(pattern) {
            Err(e) => Verdict::Unparsable(e.to_string()),
            Ok(parsed) => {
                let detection = detect(&parsed, control);
                let summary = detection.summary();
                Verdict::Judged { detects: detection.detects(), over_broad: detection.over_broad().then(|| summary.clone()), summary }
            }
        });
        let mut verdicts = self.lock();
        if verdicts.values().map(std::collections::HashMap::len).sum::<usize>() < Self::CAPACITY {
            verdicts.entry(control.id).or_default().insert(pattern.to_owned(), verdict.clone());
        }
        verdict
    }

    pub fn len(&self) -> usize {
        self.lock().values().map(std::collections::HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<&'static str, std::collections::HashMap<String, std::sync::Arc<Verdict>>>> {
        self.verdicts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::controls;

    #[test]
    fn a_verdict_is_judged_once_per_control_and_pattern_and_the_cache_is_bounded() {
        let cache = DetectionCache::new();
        let unauthorized = controls::find(controls::UNAUTHORIZED_API_CALLS).unwrap();
        let root = controls::find("root-account-usage").unwrap();
        let good = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;
        let first = cache.verdict(good, unauthorized);
        assert!(matches!(&*first, Verdict::Judged { detects: true, over_broad: None, .. }), "{first:?}");
        assert!(std::sync::Arc::ptr_eq(&first, &cache.verdict(good, unauthorized)), "the second look-up is the kept verdict");
        assert!(matches!(&*cache.verdict(good, root), Verdict::Judged { detects: false, .. }), "judged per control");
        assert!(matches!(&*cache.verdict("{ $.errorCode = ", unauthorized), Verdict::Unparsable(e) if e.contains("column")));
        assert_eq!(cache.len(), 3);
        for i in 0..DetectionCache::CAPACITY + 10 {
            let _ = cache.verdict(&format!("{{ $.eventName = \"Call{i}\" }}"), root);
        }
        assert_eq!(cache.len(), DetectionCache::CAPACITY, "varied patterns do not grow it without bound");
    }
}
