"""A fixed temp name, <path>.tmp, created with O_CREAT|O_EXCL and the
target's mode, written, renamed over the target. Two writers cannot share
it: the second gets EEXIST (and reports the write failed) instead of
truncating the first one's file. torn's gate passes it."""
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
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    main(update)
