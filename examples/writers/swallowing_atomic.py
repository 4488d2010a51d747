"""A correct atomic recipe (a unique 0600 temp file, fsync, os.replace) with
every OSError swallowed (`except OSError: pass`), so it always answers ok.
Its recipe is clean; only a fault shows the bug: when the directory turns
read-only or the disk fills up, the token silently stays stale, and torn
names the call the trace saw fail."""
import os
import re
import tempfile

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    try:
        with open(path) as f:
            content = f.read()
        new = API_KEY.sub(lambda m: m.group(1) + token, content)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".config.")
        with os.fdopen(fd, "w") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        pass  # the bug: no log line, no error, the file stays stale


if __name__ == "__main__":
    main(update)
