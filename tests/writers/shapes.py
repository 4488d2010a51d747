"""Line-protocol writers of the Hermes config.yaml for torn's learned-shape
tests, each with an atomic replace, most of them bad input:

    python3 shapes.py MODE PATH

no-token     writes its own fixed api_key, never the token it was sent;
unparseable  writes the token into a file YAML rejects;
growing      adds a new key on every write (no field explains the change);
rotated-at   stamps a write counter in `rotated_at` (a volatile field);
creates      writes a small config from scratch, never reading the file;
by-instance  the first process started indents by 2, any other by 4.
"""
import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "writers"))
from _atomic import replace  # noqa: E402
from _protocol import main  # noqa: E402

MODE = sys.argv.pop(1)
writes = 0
first = None


def load(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


def update(path, token):
    global writes, first
    writes += 1
    if MODE == "creates":
        replace(path, f"model:\n  api_key: {token}\n  provider: custom\n")
        return
    if MODE == "unparseable":
        replace(path, f"model: [unclosed\n  api_key: {token}\n")
        return
    config = load(path)
    config["model"]["api_key"] = "sk-not-the-token" if MODE == "no-token" else token
    indent = 2
    if MODE == "growing":
        config[f"note_{writes}"] = "added"
    elif MODE == "rotated-at":
        config["rotated_at"] = writes
    elif MODE == "by-instance":
        if first is None:
            try:
                os.close(os.open(path + ".first-instance", os.O_CREAT | os.O_EXCL))
                first = True
            except FileExistsError:
                first = False
        indent = 2 if first else 4
    replace(path, yaml.safe_dump(config, indent=indent))


if __name__ == "__main__":
    main(update)
