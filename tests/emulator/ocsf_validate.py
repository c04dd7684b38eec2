"""Validates OCSF events (a JSON array on stdin) against the OCSF schema, offline.

The schema is the OCSF project's own export of each version, as PyPI `ocsf-json-schema` ships it
(1.0.0 to 1.8.0), turned into JSON Schema (draft 2020-12) by that package for the event's class
and declared profiles, and checked with PyPI `jsonschema`. Every event is validated against the
version it declares (metadata.version) and against each version given with --also.

Prints {"validated": N, "versions": [...], "errors": [...]} and exits 1 when any event fails.
"""

import argparse
import json
import sys

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--also", nargs="*", default=[], help="more OCSF versions to validate against")
    args = parser.parse_args()
    events = json.load(sys.stdin)
    if not isinstance(events, list):
        print(json.dumps({"validated": 0, "errors": ["the input is not a JSON array"]}))
        return 1
    schemas, validators, errors, versions = {}, {}, [], set()
    for index, event in enumerate(events):
        declared = event.get("metadata", {}).get("version")
        profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
        for version in [declared, *args.also]:
            if version not in schemas:
                schemas[version] = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
            schema = schemas[version]
            key = (version, event.get("class_uid"), profiles)
            if key not in validators:
                class_name = schema.lookup_class_name_from_uid(class_uid=event.get("class_uid"))
                validators[key] = Draft202012Validator(schema.get_class_schema(class_name=class_name, profiles=list(profiles)))
            versions.add(version)
            for error in validators[key].iter_errors(event):
                path = "/".join(str(p) for p in error.absolute_path)
                errors.append(f"event {index} ({version}) at /{path}: {error.message}")
    print(json.dumps({"validated": len(events), "versions": sorted(versions), "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
