"""Atomic but not durable: a unique temp file, given the target's mode,
fsync'ed and renamed over the target — but the directory is never fsync'ed,
so after a power cut the rename itself may be gone and the target may hold
an older version than the one acknowledged. Readers never see a torn file
(torn gate passes it); `torn crash` flags it for durability only."""
import os
import re
import stat
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    directory = os.path.dirname(path) or "."
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(API_KEY.sub(lambda m: m.group(1) + token, content))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    main(update)
