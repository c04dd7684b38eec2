//! Counters of AWS API calls, by service and operation, for `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Calls, errors and throttles seen, by service (`cloudtrail`, `logs`, `monitoring`, `sns`,
/// `kms`, `sts`, `organizations`) and operation (`GetTrailStatus`, …). A call counts once, with its
/// final answer after the SDK's retries; every page of a paginated read is a call.
#[derive(Debug, Default)]
pub struct ApiStats {
    counts: Mutex<BTreeMap<(&'static str, &'static str), ServiceCounts>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounts {
    pub calls: u64,
    /// Calls whose final answer was an error.
    pub errors: u64,
    /// Calls whose final answer was a throttling error (counted in `errors` too).
    pub throttles: u64,
}

impl ServiceCounts {
    fn add(&mut self, other: &ServiceCounts) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.throttles += other.throttles;
    }
}

impl ApiStats {
    /// Lists an operation with no calls yet, so that its counters exist from the start.
    pub(crate) fn expect(&self, service: &'static str, operation: &'static str) {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry((service, operation)).or_default();
    }

    /// Counts one call of `operation` (e.g. `GetTrailStatus`) to `service` (e.g. `cloudtrail`).
    pub(crate) fn record(&self, service: &'static str, operation: &'static str, error: bool, throttled: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = counts.entry((service, operation)).or_default();
        entry.calls += 1;
        entry.errors += u64::from(error);
        entry.throttles += u64::from(throttled);
    }

    /// A copy of the counters, by service (every operation of a service summed).
    pub fn snapshot(&self) -> BTreeMap<&'static str, ServiceCounts> {
        let mut by_service: BTreeMap<&'static str, ServiceCounts> = BTreeMap::new();
        for ((service, _), counts) in self.snapshot_by_operation() {
            by_service.entry(service).or_default().add(&counts);
        }
        by_service
    }

    /// A copy of the counters, by (service, operation).
    pub fn snapshot_by_operation(&self) -> BTreeMap<(&'static str, &'static str), ServiceCounts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_operation_add_up_by_service() {
        let stats = ApiStats::default();
        stats.record("cloudtrail", "GetTrailStatus", false, false);
        stats.record("cloudtrail", "GetTrailStatus", true, true);
        stats.record("cloudtrail", "DescribeTrails", true, false);
        stats.record("sns", "GetTopicAttributes", false, false);
        stats.expect("sns", "GetTopicAttributes");
        stats.expect("sts", "AssumeRole");

        let by_operation = stats.snapshot_by_operation();
        assert_eq!(by_operation[&("cloudtrail", "GetTrailStatus")], ServiceCounts { calls: 2, errors: 1, throttles: 1 });
        assert_eq!(by_operation[&("cloudtrail", "DescribeTrails")], ServiceCounts { calls: 1, errors: 1, throttles: 0 });
        assert_eq!(by_operation[&("sns", "GetTopicAttributes")], ServiceCounts { calls: 1, errors: 0, throttles: 0 }, "expecting an operation keeps its counts");
        assert_eq!(by_operation[&("sts", "AssumeRole")], ServiceCounts::default());

        let by_service = stats.snapshot();
        assert_eq!(by_service.len(), 3);
        assert_eq!(by_service["cloudtrail"], ServiceCounts { calls: 3, errors: 2, throttles: 1 });
        assert_eq!(by_service["sns"], ServiceCounts { calls: 1, errors: 0, throttles: 0 });
    }
}
