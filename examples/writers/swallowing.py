"""The first fix as it often ships: <path>.tmp then os.replace, with every
OSError swallowed (`except OSError: pass`), so it always answers ok. When the
directory turns read-only or the disk fills up, the token silently stays
stale. torn's gate flags "swallowed write error" when run with --fault."""
import os
import re

from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def update(path, token):
    try:
        with open(path) as f:
            content = f.read()
        new = API_KEY.sub(lambda m: m.group(1) + token, content)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(new)
        os.replace(tmp, path)
    except OSError:
        pass  # the bug: no log line, no error, the file stays stale


if __name__ == "__main__":
    main(update)
