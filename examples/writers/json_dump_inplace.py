"""The same settings.json rotator as json_dump.py with the usual flaw:
json.dump straight into the target opened with "w", which truncates it
first. Readers see an empty or half-written file; torn's gate fails it, in
the writer's own format.

    torn gate --format json --writer-stdio 'python3 examples/writers/json_dump_inplace.py {path}'
"""
import json

from _protocol import main


def update(path, token):
    with open(path) as f:
        settings = json.load(f)
    settings.setdefault("env", {})["ANTHROPIC_AUTH_TOKEN"] = token
    with open(path, "w") as f:  # the window opens here
        json.dump(settings, f, indent=2)


if __name__ == "__main__":
    main(update)
