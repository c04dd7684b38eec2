//! `orgwatch filter-check`: does a pattern detect a control? For people writing a metric
//! filter, and for CI gates.

use orgwatch_core::controls::Control;
use orgwatch_core::detect::detect;
use orgwatch_core::pattern::FilterPattern;
use std::fmt::Write;

/// The pattern detects the control.
pub const EXIT_DETECTS: u8 = 0;
/// The pattern parses but misses some must-match events.
pub const EXIT_MISSES: u8 = 1;
/// The pattern does not parse.
pub const EXIT_INVALID: u8 = 2;

/// The report to print and the exit code.
pub fn check(control: &Control, source: &str) -> (String, u8) {
    let mut out = String::new();
    let pattern = match FilterPattern::parse(source) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(out, "error: the pattern does not parse: {e}");
            // Point at the column, when the pattern is on one line.
            if !source.contains('\n') && e.column <= source.chars().count() + 1 {
                let _ = writeln!(out, "  {source}");
                let _ = writeln!(out, "  {}^", " ".repeat(e.column.saturating_sub(1)));
            }
            return (out, EXIT_INVALID);
        }
    };
    let _ = writeln!(out, "Control: {} — {} ({})", control.id, control.title, control.references.summary());
    let detection = detect(&pattern, control);
    let _ = writeln!(out, "Must-match events ({} of {} caught):", detection.caught.len(), control.must_match.len());
    for sample in &control.must_match {
        let mark = if detection.caught.iter().any(|s| std::ptr::eq(*s, sample)) { "caught" } else { "MISSED" };
        let _ = writeln!(out, "  {mark:<7} {}", sample.description);
    }
    let _ = writeln!(out, "Benign events matched: {} of {}", detection.benign_matched.len(), detection.benign_total);
    for sample in &detection.benign_matched {
        let _ = writeln!(out, "  matched {}", sample.description);
    }
    if detection.detects() {
        let _ = writeln!(out, "Result: the pattern detects {}.", control.id);
        if detection.over_broad() {
            let _ = writeln!(out, "Note: the pattern is over-broad — it matches most ordinary events too, so its alarm will be noise.");
        }
        (out, EXIT_DETECTS)
    } else {
        let _ = writeln!(out, "Result: the pattern does NOT detect {}: it misses {} must-match event(s).", control.id, detection.missed.len());
        (out, EXIT_MISSES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgwatch_core::controls;

    fn run(pattern: &str) -> (String, u8) {
        check(controls::find(controls::UNAUTHORIZED_API_CALLS).unwrap(), pattern)
    }

    #[test]
    fn exit_codes_follow_the_verdict() {
        let (out, code) = run(r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#);
        assert_eq!(code, EXIT_DETECTS, "{out}");
        assert!(out.contains("6 of 6 caught"), "{out}");

        let (out, code) = run(r#"{ $.errorCode = "AccessDenied*" }"#);
        assert_eq!(code, EXIT_MISSES);
        assert!(out.contains("MISSED  ec2:RunInstances Client.UnauthorizedOperation"), "{out}");

        let (out, code) = run(r#"{ $.errorCode = }"#);
        assert_eq!(code, EXIT_INVALID);
        assert!(out.contains("at column 17"), "{out}");
        assert!(out.contains("                ^"), "{out}");
    }

    #[test]
    fn an_over_broad_pattern_detects_with_a_note() {
        let (out, code) = run("");
        assert_eq!(code, EXIT_DETECTS);
        assert!(out.contains("over-broad"), "{out}");
    }
}
