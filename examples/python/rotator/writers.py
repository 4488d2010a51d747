"""Two ways to put a new token in ~/.hermes/config.yaml.

`update_hermes(token)` is the Hermes rotator as it was: it finds the file
through HOME, rewrites the `api_key:` lines and writes them back with
open(path, "w") — truncate first, so a reader can find the file empty.

`safe_update(path, token)` writes a unique temp file in the same directory
with the target's mode, fsyncs it, renames it over the target and fsyncs the
directory: readers see the old file or the new one, whole, and a power cut
keeps one of them.
"""
import os
import re
import tempfile

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def _replace(content, token):
    return API_KEY.sub(lambda m: m.group(1) + token, content)


def update_hermes(token):
    path = os.path.expanduser("~/.hermes/config.yaml")
    with open(path) as f:
        content = f.read()
    with open(path, "w") as f:  # truncates: readers can see an empty file
        f.write(_replace(content, token))


def safe_update(path, token):
    with open(path) as f:
        content = f.read()
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".config.", suffix=".tmp")
    try:
        os.fchmod(fd, os.stat(path).st_mode & 0o7777)
        with os.fdopen(fd, "w") as f:
            f.write(_replace(content, token))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
