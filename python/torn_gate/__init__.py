"""torn from Python: gate an importable function as a config-file writer.

    import torn_gate
    torn_gate.gate("mypkg.cli_auth:update_hermes", format="yaml",
                   template="hermes", target=".hermes/config.yaml").check()

In a pytest suite, the ``torn`` fixture (this package's pytest plugin) does
the same and scales budgets with ``--torn-budget``.

The function is ``f(token)`` — it finds its file through ``HOME``, which torn
points at its scratch home — or ``f(path, token)``. torn runs it in a fresh
Python process (``python -m torn_gate.shim``, torn's line protocol), with the
same ``sys.path`` as the caller, and traces it.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

__all__ = ["gate", "crash", "Result", "find_torn", "TornNotFound"]

#: Status names of torn's exit codes (README: Exit codes).
STATUS = {
    0: "pass",
    1: "anomalies-found",
    2: "inconclusive",
    3: "subject-error",
    64: "usage-error",
    74: "io-error",
    130: "interrupted",
}

#: Flags whose values are durations, scaled by ``budget_scale``.
DURATIONS = ("budget", "control")
#: torn gate's default budget, scaled when no budget is given.
DEFAULT_BUDGET_S = 60.0


class TornNotFound(RuntimeError):
    """No torn binary: not in this environment, not on PATH, no TORN_BIN."""


def find_torn():
    """The torn binary: ``TORN_BIN``, else the one this wheel installed
    beside the interpreter, else ``torn`` on ``PATH``."""
    env = os.environ.get("TORN_BIN")
    if env:
        return env
    candidates = [sysconfig.get_path("scripts")]
    try:
        candidates.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    for d in candidates:
        p = os.path.join(d or "", "torn")
        if d and os.access(p, os.X_OK):
            return p
    p = shutil.which("torn")
    if p:
        return p
    raise TornNotFound(
        "no torn binary: `pip install torn-gate` puts one beside the interpreter, "
        "or set TORN_BIN to one (looked in "
        + ", ".join(c for c in candidates if c)
        + " and PATH)"
    )


class Result:
    """One torn run's verdict.

    ``status``: torn's name for it (``pass``, ``anomalies-found``,
    ``inconclusive``, ``subject-error``, ``usage-error``…); ``exit_code``;
    ``lines``: the verdict lines torn prints (the first says what failed);
    ``report_dir``: the report directory (report.json/md/html), if any;
    ``report``: the parsed ``--json`` report; ``stderr``: torn's stderr;
    ``command``: the argv that ran.
    """

    def __init__(self, command, exit_code, report, stderr, report_dir=None, lines=None):
        self.command = command
        self.exit_code = exit_code
        self.report = report
        self.stderr = stderr
        self.report_dir = report_dir
        self.status = STATUS.get(exit_code, f"exit-{exit_code}")
        if lines is None:
            verdict = report.get("verdict", {}) if isinstance(report, dict) else {}
            lines = list(verdict.get("lines") or [])
            self.status = verdict.get("status", self.status)
        if not lines:
            # No verdict (a usage or I/O error): torn's own last lines say why.
            lines = [l for l in stderr.splitlines() if l.strip()][-6:]
        self.lines = lines

    @property
    def passed(self):
        return self.exit_code == 0

    @property
    def verdict(self):
        """The verdict lines as one message (what ``check`` raises with)."""
        msg = "\n".join(self.lines)
        msg += f"\n(torn {self.status}, exit {self.exit_code})"
        if self.report_dir:
            msg += f"; report: {os.path.join(self.report_dir, 'report.md')}"
        return msg

    def check(self):
        """Raise AssertionError with the verdict unless torn passed (exit 0)."""
        __tracebackhide__ = True  # pytest: the failure is the caller's line
        if not self.passed:
            raise AssertionError(self.verdict)
        return self

    def __repr__(self):
        first = self.lines[0] if self.lines else ""
        return f"<torn_gate.Result {self.status} (exit {self.exit_code}): {first}>"


def _spec(writer):
    """'mod:func' from a string or an importable function."""
    if isinstance(writer, str):
        return writer
    module = getattr(writer, "__module__", None)
    name = getattr(writer, "__qualname__", None)
    if not module or not name or "<locals>" in name or module == "__main__":
        raise ValueError(
            f"{writer!r} is not importable by name: pass 'module:function' "
            "for a function defined at module level"
        )
    return f"{module}:{name}"


def _flags(options):
    """keyword arguments → torn flags: min_windows=30 → --min-windows 30."""
    argv = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def _seconds(value):
    """A duration ('20s', '500ms', 1.5) in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    v = str(value).strip()
    for unit, scale in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0), ("m", 60.0)):
        if v.endswith(unit):
            try:
                return float(v[: -len(unit)]) * scale
            except ValueError:
                break
    raise ValueError(f"{value!r} is not a duration torn reads here (e.g. 20s, 500ms)")


def _scale(options, factor, default_budget):
    if factor == 1:
        return options
    options = dict(options)
    if default_budget and "budget" not in options:
        options["budget"] = DEFAULT_BUDGET_S
    for key in DURATIONS:
        if key in options and options[key] is not None:
            options[key] = f"{_seconds(options[key]) * factor:g}s"
    return options


def _writer_command(spec):
    argv = [sys.executable, "-m", "torn_gate.shim", spec]
    return " ".join(shlex.quote(a) for a in argv) + " {path}"


def _env():
    # The shim imports the function as the caller would: same sys.path.
    env = dict(os.environ)
    paths = [p for p in sys.path if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _run(argv, cwd=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=cwd)
    try:
        report = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    return p, report


def gate(writer, *, reports_dir=None, budget_scale=1.0, torn=None, **options):
    """Run ``torn gate`` on ``writer`` (``'mod:func'`` or the function) and
    return its :class:`Result`. Every other keyword is a ``torn gate`` flag
    (``format="yaml"``, ``min_windows=30``, ``reader_procs=True``,
    ``volatile=["updated_at"]``). ``budget_scale`` multiplies ``budget`` and
    ``control`` (and torn's 60 s default budget)."""
    if "writer_stdio" in options or "writer_cmd" in options:
        raise ValueError("gate() serves `writer` itself; call torn directly for a command")
    spec = _spec(writer)
    reports_dir = reports_dir or tempfile.mkdtemp(prefix="torn-gate-")
    options = _scale(options, budget_scale, default_budget=True)
    argv = [torn or find_torn(), "gate", *_flags(options)]
    argv += ["--writer-stdio", _writer_command(spec), "--reports-dir", str(reports_dir), "--json"]
    p, report = _run(argv)
    found = None
    if os.path.isdir(reports_dir):
        for name in sorted(os.listdir(reports_dir)):
            if os.path.isfile(os.path.join(reports_dir, name, "report.json")):
                found = os.path.join(reports_dir, name)
    return Result(argv, p.returncode, report or {}, p.stderr, found)


def crash(writer, *, torn=None, **options):
    """Run ``torn crash`` on ``writer``: every state a power cut during its
    writes could leave, judged. Keywords are ``torn crash`` flags
    (``format``, ``template``, ``target``, ``writes``, ``model=[...]``)."""
    spec = _spec(writer)
    argv = [torn or find_torn(), "crash", *_flags(options)]
    argv += ["--writer-stdio", _writer_command(spec), "--json"]
    p, report = _run(argv)
    lines = []
    if isinstance(report, list):
        for r in report:
            v = r.get("verdict", {})
            lines.append(
                f"{spec} [{r.get('model')}]: {v.get('summary')} → {v.get('status')}"
            )
    return Result(argv, p.returncode, report or [], p.stderr, None, lines)
