//! Counters of AWS API calls that ended in an error, by service, for `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Errors and throttles seen, by service (`cloudtrail`, `logs`, …). Counts calls whose final
/// answer (after the SDK's retries) was an error.
#[derive(Debug, Default)]
pub struct ApiStats {
    counts: Mutex<BTreeMap<&'static str, ServiceCounts>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    pub calls: u64,
    pub errors: u64,
    pub throttles: u64,
}

impl ApiStats {
    pub(crate) fn record(&self, service: &'static str, error: bool, throttled: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = counts.entry(service).or_default();
        entry.calls += 1;
        entry.errors += u64::from(error);
        entry.throttles += u64::from(throttled);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> BTreeMap<&'static str, ServiceCounts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}
