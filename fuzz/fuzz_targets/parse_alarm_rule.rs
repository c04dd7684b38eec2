//! Any bytes as a composite alarm's AlarmRule: parsing, printing and judging must never panic,
//! overflow or hang, and the canonical form must parse back to a rule judged the same.
//! Run on the stable toolchain with `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_alarm_rule` from
//! the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgwatch_core::alarm_rule::{AlarmRule, MAX_RULE_LEN, Ref};

/// The child in ALARM (by name or ARN); every other alarm by its name, so that a name and its
/// ARN are one alarm.
fn identity(reference: &str) -> Ref {
    let name = reference.rsplit_once(":alarm:").map_or(reference, |(_, name)| name);
    if name == "unauthorized-api-calls" { Ref::InAlarm } else { Ref::Other(name.to_owned()) }
}

/// The first alarm the rule names in ALARM, all others not.
fn first_in_alarm(rule: &AlarmRule) -> impl Fn(&str) -> Ref + '_ {
    let first = rule.alarms().first().copied().unwrap_or("");
    move |reference: &str| if reference == first { Ref::InAlarm } else { Ref::Other(reference.to_owned()) }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rule) = AlarmRule::parse(text) else { return };
    let by_name = rule.implied_by(&identity);
    let by_first = rule.implied_by(&first_in_alarm(&rule));
    let shown = rule.to_string();
    // Quoting every alarm can push the canonical form of a rule near the cap beyond it.
    if shown.chars().count() <= MAX_RULE_LEN {
        let again = AlarmRule::parse(&shown).expect("the canonical form parses");
        assert_eq!(again.alarms(), rule.alarms());
        assert_eq!(again.to_string(), shown);
        assert_eq!(again.implied_by(&identity), by_name);
        assert_eq!(again.implied_by(&first_in_alarm(&again)), by_first);
    }
});
