"""Keeps a backup the unsafe way: writes the new file beside the target,
renames the target away to <path>.old, then renames the new file in. Between
the two renames there is no file at the target's name, and a reader gets
ENOENT. torn's gate fails it: removes-target, and missing reads."""
import os
import re
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(new)
    os.rename(path, path + ".old")
    os.rename(tmp, path)


if __name__ == "__main__":
    main(update)
