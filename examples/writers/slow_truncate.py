"""A slow command-line rotator with the Hermes bug: it takes a second and a
half to start (an interpreter importing its modules), then rewrites the
credentials file in place — open("w") truncates it, then one write. The
truncate window is a few microseconds inside each 1.5 s run, so reads
counted over the whole run see almost nothing; torn's trace sees the
truncate on the first write and fails it.

    python3 slow_truncate.py PATH TOKEN      (per-write command)
"""
import re
import sys
import time

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    time.sleep(1.5)
    with open(path) as f:
        content = f.read()
    with open(path, "w") as f:
        f.write(API_KEY.sub(lambda m: m.group(1) + token, content))


if __name__ == "__main__":
    main(update)
