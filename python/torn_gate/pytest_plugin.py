"""pytest plugin (entry point ``pytest11``): the ``torn`` fixture.

    def test_rotator_is_atomic(torn):
        torn.gate("mypkg.cli_auth:update_hermes", format="yaml",
                  template="hermes", target=".hermes/config.yaml").check()

``check()`` fails the test with torn's verdict as the message — what
failed, how often, and for a Python writer the source line of the call
behind a recipe finding. Reports go under pytest's ``tmp_path``.

``--torn-budget FACTOR`` (or ``TORN_BUDGET``) multiplies every gate's
``budget`` and ``control`` durations (and torn's default budget): ``0.5``
for a quick CI job, ``5`` for a nightly one.
"""

import os

import pytest

import torn_gate


def pytest_addoption(parser):
    group = parser.getgroup("torn", "torn: gate config-file writers")
    group.addoption(
        "--torn-budget",
        type=float,
        default=None,
        metavar="FACTOR",
        help="multiply every torn gate's budget and control durations by FACTOR "
        "(default: TORN_BUDGET, else 1)",
    )


class Torn:
    """What the ``torn`` fixture gives a test: ``gate`` and ``crash``."""

    def __init__(self, tmp_path, scale):
        self._tmp = tmp_path
        self._n = 0
        #: The factor applied to budgets (``--torn-budget``).
        self.budget_scale = scale

    def gate(self, writer, **options):
        """``torn gate`` on ``writer`` (``'mod:func'`` or the function);
        any gate flag as a keyword. Returns a :class:`torn_gate.Result`."""
        self._n += 1
        options.setdefault("reports_dir", str(self._tmp / f"torn-gate-{self._n}"))
        options.setdefault("budget_scale", self.budget_scale)
        return torn_gate.gate(writer, **options)

    def crash(self, writer, **options):
        """``torn crash`` on ``writer``; any crash flag as a keyword."""
        return torn_gate.crash(writer, **options)


@pytest.fixture
def torn(request, tmp_path):
    """Gate an importable writer function with torn: ``torn.gate(...)``."""
    scale = request.config.getoption("torn_budget")
    if scale is None:
        scale = float(os.environ.get("TORN_BUDGET", "1"))
    if scale <= 0:
        raise pytest.UsageError(f"--torn-budget must be positive, got {scale}")
    return Torn(tmp_path, scale)
