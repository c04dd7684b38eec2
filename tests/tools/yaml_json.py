"""Prints a YAML file as JSON, for the deployment kit's tests.

    yaml_json.py cfn TEMPLATE   a CloudFormation template, read by cfn-lint's own decoder
                                (short forms such as !Sub become {"Fn::Sub": ...})
    yaml_json.py docs FILE...   any other YAML (Kubernetes manifests, compose): the list of the
                                files' documents
"""
import json
import sys


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("cfn", "docs") or (sys.argv[1] == "cfn" and len(sys.argv) != 3):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "cfn":
        from cfnlint.decode import decode

        template, errors = decode(path)
        if errors or template is None:
            sys.exit(f"{path}: " + "; ".join(str(e) for e in errors))
        out = template
    else:
        import yaml

        out = []
        for name in sys.argv[2:]:
            with open(name, encoding="utf-8") as f:
                out.extend(doc for doc in yaml.safe_load_all(f) if doc is not None)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
