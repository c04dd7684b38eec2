//! Any bytes as a metric math expression: parsing, printing and judging must never panic,
//! overflow or hang, and the canonical form must parse back to the same expression.
//! Run on the stable toolchain with `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_metric_math` from
//! the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgwatch_core::metric_math::{Expression, MAX_EXPRESSION_LEN, Value, reaches};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expression) = Expression::parse(text) else { return };
    let canonical = expression.to_string();
    if canonical.chars().count() <= MAX_EXPRESSION_LEN {
        let again = Expression::parse(&canonical).expect("the canonical form parses");
        assert_eq!(again, expression, "{canonical}");
        assert_eq!(again.to_string(), canonical);
    }
    let ids = expression.ids();
    let envs: [&dyn Fn(&str) -> Option<Value>; 3] = [
        &|id| match id {
            "m1" => Some(Value::Unbounded),
            _ => Some(Value::Free),
        },
        &|id| (id.len() % 2 == 0).then_some(Value::Constant(id.len() as f64 - 3.0)),
        &|id| {
            Some(match id.len() % 4 {
                0 => Value::Unbounded,
                1 => Value::Free,
                2 => Value::Constant(0.0),
                _ => Value::Undecidable(format!("{id} is unknown")),
            })
        },
    ];
    for env in envs {
        let value = expression.during_burst(env);
        for operator in ["GreaterThanOrEqualToThreshold", "LessThanThreshold", "GreaterThanUpperThreshold"] {
            let _ = reaches(&value, operator, 1.0);
        }
    }
    let _ = ids;
});
