"""A correct line-protocol writer (examples/writers/durable.py) that is hard
to get rid of, for the tests that torn leaves no process behind.

    python3 hostile.py PATH MARKER [--daemon] [--ignore-eof]

--daemon      starts a grandchild in a new session (setsid), outside the
              writer's process group, that sleeps for five minutes;
--ignore-eof  ignores SIGINT/SIGTERM/SIGHUP and keeps running after stdin
              closes.
MARKER appears in the command line of every process this starts.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "writers"))
from durable import update  # noqa: E402

path, marker, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
if "--daemon" in flags:
    subprocess.Popen(
        ["setsid", sys.executable, "-c", "import time; time.sleep(300)", marker],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
if "--ignore-eof" in flags:
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
for line in sys.stdin:
    try:
        update(path, line.strip())
    except Exception as e:  # a read-only directory, say: reported, not fatal
        print(f"err {type(e).__name__}: {e}", flush=True)
    else:
        print("ok", flush=True)
while "--ignore-eof" in flags:
    time.sleep(1)
