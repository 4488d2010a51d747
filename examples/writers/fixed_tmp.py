"""The common first fix: write <path>.tmp, then os.replace it over the
target. Atomic with one writer; with several they share the temp name, and
one truncates the file another is about to rename. torn's gate passes it
with --writers 1 and fails it with --writers 4. (It creates the temp file
with the target's mode, so its one flaw is the shared name.)"""
import os
import re
import stat

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    tmp = path + ".tmp"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    main(update)
