"""What PyPI atomicwrites 1.4.1 does: mkstemp (mode 0600) beside the target,
close it, reopen it by name with open(tmp, "w") — O_WRONLY|O_CREAT|O_TRUNC,
mode 0666 — write, fsync, rename over the target. The reopen's O_CREAT
creates nothing (the file exists), so the temp file stays 0600: the token
never becomes readable by others. torn's gate passes it."""
import os
import re
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    with open(path) as f:
        content = f.read()
    new = API_KEY.sub(lambda m: m.group(1) + token, content)
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="tmp", suffix=".tmp")
    os.close(fd)
    with open(tmp, "w") as f:
        f.write(new)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main(update)
