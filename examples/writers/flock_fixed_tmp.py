"""A fixed temp name under a lock: every writer takes flock(LOCK_EX) on
<path>.lock, then writes <path>.tmp (O_TRUNC, the target's mode) and renames
it over the target, then unlocks. Writers take turns, so none truncates
another's temp file; the lock file stays behind, as lock files do (it is
not litter). torn's gate passes it."""
import fcntl
import os
import re
import stat

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path) as f:
            content = f.read()
        new = API_KEY.sub(lambda m: m.group(1) + token, content)
        tmp = path + ".tmp"
        mode = stat.S_IMODE(os.stat(path).st_mode)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(new)
        os.replace(tmp, path)
    finally:
        os.close(lock)


if __name__ == "__main__":
    main(update)
