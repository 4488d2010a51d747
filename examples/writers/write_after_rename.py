"""Renames its temp file over the target too early: writes the first half
into a unique temp file, renames it over the target, then writes the rest
through the same descriptor — which now writes the target in place. Readers
can see half a file. torn's gate fails it: writes-target-in-place."""
import os
import re
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content).encode()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    half = len(new) // 2
    os.write(fd, new[:half])
    os.replace(tmp, path)
    os.write(fd, new[half:])
    os.close(fd)


if __name__ == "__main__":
    main(update)
