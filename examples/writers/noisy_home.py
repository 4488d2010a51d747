"""A correct writer that, like npm, cargo or poetry, also leaves files of its
own around: a debug log per run and an update-check stamp in a log tree, a
package-cache lock file it flocks, and its own settings file — in
subdirectories beside the target and under HOME, none of them holding the
token or ever renamed onto the target. The config itself is replaced the
safe way (unique temp, target's mode, fsync, rename). torn's gate passes it:
the tool's own files are neither findings nor litter."""
import fcntl
import os
import re
import time

from _atomic import replace
from _protocol import main

API_KEY = re.compile(r"^(  api_key: ).*$", re.MULTILINE)


def own_files(base):
    logs = os.path.join(base, ".tool", "_logs")
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, f"{time.time_ns()}-debug-0.log"), "w") as f:
        f.write("verbose cli rotate\n")
    with open(os.path.join(base, ".tool", "update-notifier.json"), "w") as f:
        f.write('{"lastUpdateCheck": %d}\n' % time.time())
    cache = os.path.join(base, ".tool", "cache")
    os.makedirs(cache, exist_ok=True)
    lock = os.open(os.path.join(cache, ".package-cache"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def update(path, token):
    locks = [own_files(os.path.dirname(path)), own_files(os.environ["HOME"])]
    try:
        with open(path) as f:
            content = f.read()
        replace(path, API_KEY.sub(lambda m: m.group(1) + token, content))
    finally:
        for lock in locks:
            os.close(lock)


if __name__ == "__main__":
    main(update)
