"""Checks the PromQL in a Markdown document: every ```promql block and every rule of a ```yaml
Prometheus rule file (`groups:`) must parse with a PromQL parser (the `promql-parser` package, a
port of Prometheus's own), and every metric it names must be one /metrics exposes.

    check_promql.py DOC.md < names.json    names.json: the sample names /metrics exposes

Prints the number of expressions checked; exit 1 with the first problem on stderr.
"""

import json
import re
import sys

import promql_parser
import yaml

# Metrics Prometheus itself records for every target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}


def metric_names(expression):
    names = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.append(node.name)
        return True

    promql_parser.walk(expression, visit)
    return names


def main() -> int:
    document = open(sys.argv[1], encoding="utf-8").read()
    exposed = set(json.load(sys.stdin)) | PROMETHEUS_OWN
    expressions = []
    for language, body in re.findall(r"```(\w+)\n(.*?)```", document, re.S):
        if language == "promql":
            expressions.append(("promql block", body.strip()))
        elif language == "yaml":
            data = yaml.safe_load(body)
            for group in (data or {}).get("groups", []):
                assert group.get("name"), f"a rule group without a name: {group}"
                for rule in group["rules"]:
                    unknown = set(rule) - RULE_KEYS
                    assert not unknown and "alert" in rule and "expr" in rule, f"not an alerting rule: {rule}"
                    expressions.append((f"alert {rule['alert']}", str(rule["expr"])))
    for where, text in expressions:
        try:
            expression = promql_parser.parse(text)
        except ValueError as error:
            print(f"{where}: {text!r} does not parse: {error}", file=sys.stderr)
            return 1
        for name in metric_names(expression):
            if name not in exposed:
                print(f"{where}: {text!r} names {name}, which /metrics does not expose", file=sys.stderr)
                return 1
    print(len(expressions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
