"""Parses a Prometheus exposition from stdin with Prometheus's own Python client and prints its
samples as JSON: [{"family", "type", "name", "labels", "value"}, ...].

    parse_metrics.py prometheus    the text format 0.0.4 (prometheus_client.parser)
    parse_metrics.py openmetrics   OpenMetrics 1.0 text (prometheus_client.openmetrics.parser)

A text either parser rejects is an error: exit 1 with the parser's message on stderr.
"""

import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as prometheus_families


def main() -> int:
    parse = {"prometheus": prometheus_families, "openmetrics": openmetrics_families}[sys.argv[1]]
    text = sys.stdin.read()
    samples = []
    try:
        for family in parse(text):
            for sample in family.samples:
                value = sample.value
                samples.append({
                    "family": family.name,
                    "type": family.type,
                    "name": sample.name,
                    "labels": sample.labels,
                    "value": None if math.isinf(value) or math.isnan(value) else value,
                })
    except Exception as error:  # the parsers raise ValueError and others on bad input
        print(f"not a valid {sys.argv[1]} exposition: {error!r}", file=sys.stderr)
        return 1
    json.dump(samples, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
