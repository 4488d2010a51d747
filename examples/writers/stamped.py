"""A settings.json rotator that stamps the time of every write in the file
(`updated_at`, microseconds) as many tools do: its bytes change on every
write apart from the token. torn finds `updated_at` to be volatile in the
warm-up, judges reads by meaning, and passes it.

    torn gate --format json --writer-stdio 'python3 examples/writers/stamped.py {path}'
"""
import datetime
import json

from _atomic import replace
from _protocol import main


def update(path, token):
    with open(path) as f:
        settings = json.load(f)
    settings.setdefault("env", {})["ANTHROPIC_AUTH_TOKEN"] = token
    settings["updated_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
    replace(path, json.dumps(settings, indent=2) + "\n")


if __name__ == "__main__":
    main(update)
