//! Any bytes as a metric filter's fieldSelectionCriteria: parsing, printing and judging must
//! never panic, overflow or hang; the canonical form must parse back to equal criteria judged
//! the same; and an answer given without knowing a field must hold whatever the field holds.
//! Run on the stable toolchain with `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_selection` from
//! the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgwatch_core::selection::{Criteria, MAX_CRITERIA_LEN, Selected};

/// What orgwatch knows of an event: its account and region, no other field.
fn system(field: &str) -> Option<String> {
    match field {
        "@aws.account" => Some("111111111111".to_owned()),
        "@aws.region" => Some("us-east-1".to_owned()),
        _ => None,
    }
}

fn nothing(_: &str) -> Option<String> {
    None
}

/// Every field known, with the value "a".
fn everything(_: &str) -> Option<String> {
    Some("a".to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(criteria) = Criteria::parse(text) else { return };
    let lookups: [&dyn Fn(&str) -> Option<String>; 3] = [&system, &nothing, &everything];
    let answers: Vec<Selected> = lookups.iter().map(|lookup| criteria.selects(*lookup)).collect();
    // Knowing nothing, a decided answer is the answer whatever the fields hold.
    if !matches!(answers[1], Selected::Undecidable(_)) {
        assert_eq!(answers[0], answers[1], "{text:?}");
        assert_eq!(answers[2], answers[1], "{text:?}");
    }
    let shown = criteria.to_string();
    // Spacing every operator can push the canonical form of criteria near the cap beyond it.
    if shown.chars().count() <= MAX_CRITERIA_LEN {
        let again = Criteria::parse(&shown).expect("the canonical form parses");
        assert_eq!(again, criteria);
        assert_eq!(again.to_string(), shown);
        for (lookup, answer) in lookups.iter().zip(&answers) {
            assert_eq!(&again.selects(*lookup), answer);
        }
    }
});
