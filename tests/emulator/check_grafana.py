"""Checks a Grafana dashboard's queries against what /metrics exposes.

    check_grafana.py DASHBOARD.json < series.json    series.json: [[name, {label: value}], ...],
                                                      every sample /metrics exposes

- Every panel (rows' nested panels included) reads the `${datasource}` Prometheus variable, and
  so does each of its targets.
- Every target's `expr`, once Grafana's variables are replaced by sample values, parses with a
  PromQL parser (`promql-parser`, a port of Prometheus's own) and names only exposed metrics.
  `$__rate_interval`, `$__interval` and `$__range` become durations; a query variable becomes
  the first value its `label_values(...)` offers among the exposed series. A `$` left over is an
  unknown variable.
- Every label matcher names a label its metric has; an `=` matcher's value, and an `=~` matcher's
  regex, must match a value of that label among the exposed series, so that no panel selects
  nothing for want of a typo.
- Every query variable's `label_values(selector, label)` (Grafana syntax, not PromQL) names an
  exposed metric in a selector that parses, and a label that metric has.

Prints the number of queries checked; exit 1 with the first problem on stderr.
"""

import json
import re
import sys

import promql_parser

from check_promql import PROMETHEUS_OWN, metric_names

DATASOURCE = "${datasource}"
# Grafana's own interval variables, and a value each could take.
BUILTINS = {"__rate_interval": "5m", "__interval": "1h", "__range": "1d", "__interval_ms": "3600000", "__range_s": "86400"}
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


class Problem(Exception):
    pass


def panels_of(dashboard):
    def walk(panels):
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard.get("panels", []))


def substitute(where, text, values):
    def value(match):
        name = match.group("braced") or match.group("plain") or match.group("old")
        if name not in values:
            raise Problem(f"{where}: {text!r} uses ${name}, which is neither a Grafana built-in nor a variable of the dashboard")
        return values[name]

    return re.sub(r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)|\[\[(?P<old>\w+)\]\]", value, text)


class Exposed:
    def __init__(self, series):
        self.labels = {}
        for name, labels in series:
            for label, value in labels.items():
                self.labels.setdefault(name, {}).setdefault(label, set()).add(value)
            self.labels.setdefault(name, {})

    def check(self, where, text):
        try:
            expression = promql_parser.parse(text)
        except ValueError as error:
            raise Problem(f"{where}: {text!r} does not parse: {error}")
        names = metric_names(expression)
        if not names:
            raise Problem(f"{where}: {text!r} names no metric")
        for name in names:
            if name not in self.labels and name not in PROMETHEUS_OWN:
                raise Problem(f"{where}: {text!r} names {name}, which /metrics does not expose")
        selectors = []

        def visit(node):
            if isinstance(node, promql_parser.VectorSelector) and node.name in self.labels:
                selectors.append(node)
            return True

        promql_parser.walk(expression, visit)
        for selector in selectors:
            labels = self.labels[selector.name]
            for matcher in selector.matchers.matchers:
                if matcher.name not in labels:
                    raise Problem(f"{where}: {text!r} matches label {matcher.name!r}, which {selector.name} does not have (it has {sorted(labels)})")
                values = labels[matcher.name]
                if matcher.op == promql_parser.MatchOp.Equal:
                    matches, op = matcher.value in values, "="
                elif matcher.op == promql_parser.MatchOp.Re:
                    matches, op = any(re.fullmatch(matcher.value, v) for v in values), "=~"
                else:
                    continue
                if not matches:
                    raise Problem(f"{where}: {text!r}: {matcher.name}{op}{matcher.value!r} matches no value of {selector.name} (it has {sorted(values)})")
        return names

    def label_values(self, where, text):
        match = LABEL_VALUES.match(text)
        if not match:
            raise Problem(f"{where}: {text!r} is not label_values([selector,] label)")
        label = match.group("label")
        selector = match.group("selector")
        if selector is None:
            values = {v for labels in self.labels.values() for v in labels.get(label, ())}
        else:
            names = self.check(where, selector)
            if any(label not in self.labels.get(name, {}) for name in names):
                raise Problem(f"{where}: {text!r} asks for label {label!r}, which {names} does not have")
            values = {v for name in names for v in self.labels[name][label]}
        if not values:
            raise Problem(f"{where}: {text!r} offers no value")
        return sorted(values)


def main() -> int:
    dashboard = json.load(open(sys.argv[1], encoding="utf-8"))
    exposed = Exposed(json.load(sys.stdin))
    checked = 0
    try:
        values = dict(BUILTINS)
        variables = dashboard.get("templating", {}).get("list", [])
        if not any(v.get("type") == "datasource" and v.get("name") == "datasource" and v.get("query") == "prometheus" for v in variables):
            raise Problem("no `datasource` variable of type datasource for Prometheus")
        values["datasource"] = DATASOURCE
        for variable in variables:
            name = variable.get("name")
            if variable.get("type") == "datasource":
                continue
            if variable.get("type") != "query":
                raise Problem(f"variable {name}: a {variable.get('type')} variable is not checked")
            if variable.get("datasource", {}).get("uid") != DATASOURCE:
                raise Problem(f"variable {name} does not read {DATASOURCE}")
            query = variable.get("query")
            texts = {query["query"] if isinstance(query, dict) else query}
            if variable.get("definition"):
                texts.add(variable["definition"])
            if len(texts) != 1:
                raise Problem(f"variable {name}: its definition and query differ: {sorted(texts)}")
            offered = exposed.label_values(f"variable {name}", texts.pop())
            # As Grafana escapes a multi-value variable's value for a regex inside a PromQL string.
            values[name] = re.escape(offered[0]).replace("\\", "\\\\")
            checked += 1
        for panel in panels_of(dashboard):
            title = panel.get("title")
            if panel.get("type") == "row":
                continue
            if panel.get("datasource", {}).get("uid") != DATASOURCE:
                raise Problem(f"panel {title!r} does not read {DATASOURCE}")
            for target in panel.get("targets", []):
                where = f"panel {title!r} target {target.get('refId')}"
                if target.get("datasource", {}).get("uid") != DATASOURCE:
                    raise Problem(f"{where} does not read {DATASOURCE}")
                if not target.get("expr"):
                    raise Problem(f"{where} has no expr")
                exposed.check(where, substitute(where, target["expr"], values))
                checked += 1
    except Problem as problem:
        print(problem, file=sys.stderr)
        return 1
    print(checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
