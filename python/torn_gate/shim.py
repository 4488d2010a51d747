"""Serve an importable Python function as a torn line-protocol writer.

    python -m torn_gate.shim mypkg.cli_auth:update_hermes PATH

torn sends one token per line on stdin; the shim calls the function —
``f(token)`` (it finds the file through HOME, which torn points at its
scratch home) or ``f(path, token)`` — and answers ``ok`` or
``err <message>``, one line per token.

While the function runs, an audit hook (``sys.addaudithook``) watches the
file operations that torn's recipe findings are about — ``open`` (and
``os.open``) with its flags, ``os.truncate``/``os.ftruncate``,
``os.rename``/``os.replace``, ``os.remove``, a shared ``mmap`` — on the
target and on files in its directory, and notes the first user source line
behind each. It sends them after ``ok``, once per finding::

    ok # where truncates-target cli_auth.py:97 in _update_hermes

torn shows the line beside the finding its own trace made; a note never
makes a finding by itself (torn judges the system calls, not this hook).

The function's own prints go to stderr: stdout carries only answers.
"""

import importlib
import inspect
import os
import sys
import sysconfig

_WATCHED = frozenset(
    {"open", "os.truncate", "os.rename", "os.remove", "mmap.__new__"}
)
_SKIP_DIRS = tuple(
    os.path.realpath(p) + os.sep
    for p in {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    if p
)
_HERE = os.path.dirname(os.path.realpath(__file__)) + os.sep


def load(spec):
    """`mod.sub:func` (or `mod.sub:Class.method`) → the callable."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise SystemExit(
            f"torn_gate.shim: {spec!r} is not MODULE:FUNCTION (e.g. mypkg.cli_auth:update_hermes)"
        )
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise SystemExit(f"torn_gate.shim: {spec} is not callable")
    return obj


def arity(f):
    """1 for f(token), 2 for f(path, token), from the required parameters."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return 1
    required = [
        p
        for p in params
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return 2 if len(required) >= 2 else 1


def where():
    """`file.py:97 in func` for the innermost frame of the user's own code
    (not the standard library, not this shim), or None."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        real = os.path.realpath(name) if not name.startswith("<") else name
        stdlib = real.startswith(_SKIP_DIRS) and not (
            "site-packages" in real or "dist-packages" in real
        )
        if not (name.startswith("<") or real.startswith(_HERE) or stdlib):
            try:
                shown = os.path.relpath(real)
            except ValueError:
                shown = real
            if shown.startswith(".." + os.sep):
                shown = real
            return f"{shown}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return None


class Watch:
    """The file operations of one call, by the finding they can cause."""

    def __init__(self, target):
        self.target = os.path.realpath(target)
        self.dir = os.path.dirname(self.target)
        self.active = False
        self.found = {}  # finding name -> location, this call
        self.created = {}  # path in the target's dir -> where it was opened
        self.sent = set()  # finding names already sent

    def _real(self, path):
        if isinstance(path, int):
            try:
                return os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                return None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            try:
                path = os.fspath(path)
            except TypeError:
                return None
        return os.path.realpath(path)

    def note(self, finding):
        if finding not in self.found:
            at = where()
            if at:
                self.found[finding] = at

    def hook(self, event, args):
        if not self.active or event not in _WATCHED:
            return
        self.active = False  # no recursion from what we call here
        try:
            self._see(event, args)
        finally:
            self.active = True

    def _see(self, event, args):
        if event == "open":
            path = self._real(args[0])
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writes = flags & (os.O_WRONLY | os.O_RDWR) or (
                isinstance(args[1], str) and any(c in args[1] for c in "wa+x")
            )
            if path == self.target and writes:
                trunc = flags & os.O_TRUNC or (isinstance(args[1], str) and "w" in args[1])
                self.note("truncates-target" if trunc else "writes-target-in-place")
            elif path and writes and os.path.dirname(path) == self.dir:
                self.created.setdefault(path, where())
        elif event == "os.truncate":
            if self._real(args[0]) == self.target:
                self.note("truncates-target")
        elif event == "mmap.__new__":
            if self._real(args[0]) == self.target:
                self.note("writes-target-in-place")
        elif event == "os.remove":
            if self._real(args[0]) == self.target:
                self.note("removes-target")
        elif event == "os.rename":
            src, dst = self._real(args[0]), self._real(args[1])
            if src == self.target:
                self.note("removes-target")
            elif dst == self.target:
                made = self.created.get(src)
                for finding in ("fixed-temp-name", "temp-wider-than-target"):
                    if made and finding not in self.found:
                        self.found[finding] = made
                self.note("rename-from-other-dir")
                self.note("no-fsync-before-rename")
                self.note("no-dir-fsync")

    def call(self, f, args):
        self.found = {}
        self.created = {}
        self.active = True
        try:
            f(*args)
        finally:
            self.active = False

    def notes(self):
        new = {k: v for k, v in self.found.items() if k not in self.sent}
        self.sent.update(new)
        return "".join(f" # where {k} {v}" for k, v in sorted(new.items()))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit("usage: python -m torn_gate.shim MODULE:FUNCTION PATH")
    spec, path = argv
    # Answers go to the real stdout; anything the function prints, to stderr.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    f = load(spec)
    two = arity(f) == 2
    watch = Watch(path)
    sys.addaudithook(watch.hook)
    for line in sys.stdin:
        token = line.strip()
        try:
            watch.call(f, (path, token) if two else (token,))
        except Exception as e:  # every failure is reported, never swallowed
            message = f"{type(e).__name__}: {e}".replace("\n", " ")
            answers.write(f"err {message}\n")
        else:
            answers.write(f"ok{watch.notes()}\n")
        answers.flush()


if __name__ == "__main__":
    main()
