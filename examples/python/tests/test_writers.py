"""Gate both writers. `test_unsafe_writer_fails` fails on purpose: its
message is torn's verdict, naming the line in rotator/writers.py that
truncates the file."""
import pytest

# Small budgets, so the suite takes seconds; `pytest --torn-budget 5` for more.
HERMES = dict(format="yaml", template="hermes", target=".hermes/config.yaml")
QUICK = dict(HERMES, min_windows=30, budget="20s", control="500ms")


def test_safe_writer_passes(torn):
    torn.gate("rotator.writers:safe_update", **QUICK).check()


def test_unsafe_writer_fails(torn):
    """Red on purpose: this is what a pytest user sees for a torn write."""
    torn.gate("rotator.writers:update_hermes", **QUICK).check()


def test_unsafe_writer_verdict_names_the_line(torn):
    from rotator import writers

    result = torn.gate(writers.update_hermes, **QUICK)
    assert result.status == "anomalies-found", result.verdict
    assert result.exit_code == 1
    assert result.report_dir and result.report.get("cases"), result.verdict
    with pytest.raises(AssertionError, match=r"truncates the target in place .*— rotator/writers\.py:\d+ in update_hermes"):
        result.check()


def test_crash_states(torn):
    torn.crash("rotator.writers:safe_update", **HERMES).check()
    unsafe = torn.crash("rotator.writers:update_hermes", **HERMES)
    assert unsafe.status == "anomalies-found", unsafe.verdict
    assert "not atomic" in unsafe.verdict
