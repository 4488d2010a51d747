"""The two ways torn drives a writer, shared by the example writers.

Per-write command:   python3 naive.py PATH TOKEN      (exit 0 = committed)
Line protocol:       python3 naive.py PATH            (one token per line on
                     stdin; answer "ok" or "err <message>" per line)

`update` is the function under test: update(path, token) must install the
token in the file or raise.
"""
import sys


def main(update):
    if len(sys.argv) == 3:
        update(sys.argv[1], sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PATH [TOKEN]")
    path = sys.argv[1]
    for line in sys.stdin:
        try:
            update(path, line.strip())
        except Exception as e:  # report every failure: never swallow it
            print(f"err {type(e).__name__}: {e}", flush=True)
        else:
            print("ok", flush=True)
