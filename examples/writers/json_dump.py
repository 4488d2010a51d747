"""A Claude settings.json token rotator that writes the file in its own
format: json.load, set env.ANTHROPIC_AUTH_TOKEN, json.dumps(indent=2) — no
trailing newline, unlike torn's template — then an atomic replace. torn
learns its shape from the warm-up writes and passes it.

    torn gate --format json --writer-stdio 'python3 examples/writers/json_dump.py {path}'
"""
import json

from _atomic import replace
from _protocol import main


def update(path, token):
    with open(path) as f:
        settings = json.load(f)
    settings.setdefault("env", {})["ANTHROPIC_AUTH_TOKEN"] = token
    replace(path, json.dumps(settings, indent=2))


if __name__ == "__main__":
    main(update)
