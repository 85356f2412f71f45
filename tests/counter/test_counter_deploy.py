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
    assert env["COUNTER_MODE"] == "production"
    assert env["COUNTER_TRUSTED_PROXIES"] == "127.0.0.1,::1"
    assert unit["EnvironmentFile"] == ["/etc/dvk-counter.env"]  # the secret: required
    assert unit["UMask"] == ["0077"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_server_files_units(tmp_path: Path) -> None:
    """The path unit and the service it starts verify (the script is not installed)."""
    for name in ("dvk-server-files.path", "dvk-server-files.service"):
        shutil.copy(ROOT / "deploy" / name, tmp_path / name)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "dvk-server-files.path")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip()
        and "dvk-install-server-files" not in line
        and "nginx.service" not in line
    ]
    assert problems == []


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
