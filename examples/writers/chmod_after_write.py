"""A unique temp file created 0600, the token written into it, then chmod'ed
to 0644 and renamed over the target: atomic, but the token ends up (and sat,
between the chmod and the rename) readable by every user. torn's gate fails
it on its recipe: temp-wider-than-target."""
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
    os.write(fd, new.encode())
    os.fchmod(fd, 0o644)
    os.close(fd)
    os.replace(tmp, path)


if __name__ == "__main__":
    main(update)
