"""The systemd unit is valid and sandboxed (checked by systemd-analyze if present)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.counter.counter_helpers import ROOT

UNIT = ROOT / "deploy" / "dvk-counter.service"


def directives() -> dict[str, list[str]]:
    """Return the unit's directives, each with all its values."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if match:
            found.setdefault(match[1], []).append(match[2])
    return found


def test_unit_runs_the_service_sandboxed() -> None:
    """python -m counter from the venv; only the state directory is writable."""
    unit = directives()
    assert unit["ExecStart"] == ["/srv/dvk-portal/.venv/bin/python -m counter"]
    assert unit["DynamicUser"] == ["yes"] and unit["StateDirectory"] == ["dvk-counter"]
    for name, value in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
    ]:
        assert unit[name] == [value], name
    assert "ReadWritePaths" not in unit
    env = dict(value.split("=", 1) for value in unit["Environment"])
    assert env["COUNTER_DATABASE_URL"].startswith("sqlite:////var/lib/dvk-counter/")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    """systemd-analyze verify finds nothing but the venv missing on this machine."""
    copy = tmp_path / UNIT.name
    shutil.copy(UNIT, copy)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert exposure and float(exposure[1]) <= 2.5, security.stdout[-500:]
