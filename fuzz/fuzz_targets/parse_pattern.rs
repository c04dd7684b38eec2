//! Any bytes as a filter pattern: parsing and evaluation must never panic, overflow or hang.
//! Run with `cargo +nightly fuzz run parse_pattern` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgwatch_core::pattern::{FilterPattern, LogEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pattern) = FilterPattern::parse(text) {
        let event = LogEvent::from_json(serde_json::json!({
            "errorCode": "AccessDenied", "a": {"b": [1, "x", null, true]}, "n": 3.5
        }));
        let _ = pattern.matches(&event);
        let _ = pattern.matches(&LogEvent::from_text(text));
    }
});
