"""The full fix: a uniquely named temp file in the same directory, given the
target's mode, fsync'ed, renamed over the target, then the directory
fsync'ed. Readers see the old or the new file whole; the rename survives a
power cut; the token never becomes readable by others. torn's gate passes it."""
import os
import re
import stat
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    directory = os.path.dirname(path) or "."
    mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


if __name__ == "__main__":
    main(update)
