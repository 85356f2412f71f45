"""scripts/deploy.sh with the real rsync into a local "remote" (a fake ssh runs it).

The fake ssh runs the remote command locally; the rrsync one runs it through
Debian's /usr/bin/rrsync, as an `authorized_keys` `command=` restriction would.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.browser import require_program
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "deploy.sh"
RRSYNC = Path("/usr/bin/rrsync")


def fake_ssh(tmp: Path, rrsync_root: Path | None = None) -> str:
    """Return an ssh stand-in: runs the command locally, or through rrsync."""
    script = tmp / ("fake-rrsync-ssh" if rrsync_root else "fake-ssh")
    if rrsync_root is None:
        script.write_text('#!/bin/sh\nshift\nexec "$@"\n', "utf-8")
    else:
        script.write_text(
            '#!/bin/sh\nshift\nSSH_ORIGINAL_COMMAND="$*" '
            f'exec {RRSYNC} "{rrsync_root}"\n',
            "utf-8",
        )
    script.chmod(0o755)
    return str(script)


def build_output(tmp: Path, files: dict[str, str]) -> Path:
    """Write a stand-in for a built site (with its .dvk-site marker)."""
    source = tmp / "output"
    for name, text in {".dvk-site": "marker\n", **files}.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, "utf-8")
    return source


def deploy(
    tmp: Path, source: Path, path: str, ssh: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run the deploy script; return its result."""
    require_program("rsync", "rsync")
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEPLOY_")},
        "DEPLOY_HOST": "may-chu",
        "DEPLOY_PATH": path,
        "DEPLOY_SSH": ssh or fake_ssh(tmp),
        **env,
    }
    return subprocess.run(
        ["bash", str(SCRIPT), str(source)],
        capture_output=True,
        text=True,
        env=full,
        cwd=tmp,
        timeout=60,
    )


def files_in(folder: Path) -> list[str]:
    """Return the files below folder, relative and sorted."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )


def recording_ssh(tmp: Path) -> tuple[str, Path]:
    """Return an ssh stand-in that only records its arguments and fails.

    The dangerous paths below are real system folders ("/", "/srv/../etc"): a
    script that did not refuse them must never reach a working "remote", or this
    test would delete them. This one runs nothing, so a failing script is seen
    (the log is not empty) and harms nothing.
    """
    log = tmp / "ssh-calls.log"
    script = tmp / "recording-ssh"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexit 1\n', "utf-8")
    script.chmod(0o755)
    return str(script), log


@pytest.mark.parametrize(
    "path",
    [
        "/",
        ".",
        "~",
        "~/site",
        "relative/site",
        "/srv/../etc",
        "/srv/my site",
        "/srv/./x",
        "//",
        "/.",
        "/srv/..",
        "/srv/a\tb",
        "/srv/*",  # rsync globs it on the server: another folder's marker would do
        "/srv/site?",
        "/srv/[ab]",
        "/srv/$HOME",
        "/srv/`id`",
        "/srv/a;b",
        "/srv/'a'",
        "-rf",
    ],
)
def test_dangerous_paths_are_refused(tmp_path: Path, path: str) -> None:
    source = build_output(tmp_path, {"index.html": "mới"})
    ssh, log = recording_ssh(tmp_path)
    result = deploy(tmp_path, source, path, ssh)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("LỖI DEPLOY_PATH")
    assert not log.exists(), log.read_text()  # refused before any rsync ran


def test_an_empty_path_is_refused(tmp_path: Path) -> None:
    source = build_output(tmp_path, {"index.html": "mới"})
    ssh, log = recording_ssh(tmp_path)
    result = deploy(tmp_path, source, "", ssh)
    assert result.returncode == 1
    assert result.stderr.startswith("LỖI DEPLOY_PATH trống")
    assert not log.exists()


@pytest.mark.parametrize(
    "path",
    ["/", "relative", "/srv/*", "/srv/../etc", "/srv/dvk/site", "/srv/dvk/site/nginx"]
    + ["/srv/dvk", "/srv/dvk/site/"],  # the site's folder, inside it, or around it
)
def test_a_dangerous_server_path_is_refused_before_anything_is_sent(
    tmp_path: Path, path: str
) -> None:
    source = build_output(tmp_path, {"index.html": "mới"})
    (tmp_path / "output-server").mkdir()
    (tmp_path / "output-server" / "csp.conf").write_text("x\n")
    ssh, log = recording_ssh(tmp_path)
    result = deploy(tmp_path, source, "/srv/dvk/site", ssh, DEPLOY_SERVER_PATH=path)
    assert result.returncode == 1
    assert result.stderr.startswith("LỖI DEPLOY_SERVER_PATH")
    assert not log.exists(), log.read_text()  # the site was not sent either


def test_a_folder_without_the_marker_is_not_emptied(tmp_path: Path) -> None:
    source = build_output(tmp_path, {"index.html": "mới"})
    target = tmp_path / "home"
    (target / "tai-lieu").mkdir(parents=True)
    (target / "tai-lieu" / "bao-cao.docx").write_text("quan trọng")
    result = deploy(tmp_path, source, str(target))
    assert result.returncode == 1
    assert "không có .dvk-site" in result.stderr
    assert files_in(target) == ["tai-lieu/bao-cao.docx"]
    init = deploy(tmp_path, source, str(target), DEPLOY_INIT="1")
    assert init.returncode == 0, init.stderr
    assert files_in(target) == [".dvk-site", "index.html", "tai-lieu/bao-cao.docx"]


def test_a_marked_folder_is_replaced(tmp_path: Path) -> None:
    source = build_output(tmp_path, {"index.html": "cũ", "cu/index.html": "bỏ"})
    target = tmp_path / "srv" / "site"
    target.parent.mkdir()
    assert deploy(tmp_path, source, str(target)).returncode == 0  # missing: first
    (source / "cu" / "index.html").unlink()
    result = deploy(tmp_path, source, str(target) + "/")
    assert result.returncode == 0, result.stderr
    assert files_in(target) == [".dvk-site", "index.html"]


def test_rrsync_paths_are_relative_to_its_root(tmp_path: Path) -> None:
    if not RRSYNC.exists():
        pytest.skip("needs rrsync from Debian's rsync package")
    source = build_output(tmp_path, {"index.html": "mới"})
    root = tmp_path / "rrsync-root"
    (root / "site").mkdir(parents=True)
    ssh = fake_ssh(tmp_path, root)
    absolute = deploy(tmp_path, source, str(root / "site"), ssh, DEPLOY_RRSYNC="1")
    assert absolute.returncode == 1 and "tương đối" in absolute.stderr
    done = deploy(tmp_path, source, "site", ssh, DEPLOY_RRSYNC="1")
    assert done.returncode == 0, done.stderr
    assert files_in(root / "site") == [".dvk-site", "index.html"]
    (source / "index.html").write_text("mới hơn")
    (source / "moi.html").write_text("x")
    again = deploy(tmp_path, source, "site", ssh, DEPLOY_RRSYNC="1")
    assert again.returncode == 0, again.stderr
    assert files_in(root / "site") == [".dvk-site", "index.html", "moi.html"]


def test_server_files_go_to_their_upload_folder(tmp_path: Path) -> None:
    source = build_output(tmp_path, {"index.html": "mới"})
    server = tmp_path / "output-server"
    server.mkdir()
    (server / "csp.conf").write_text('add_header X "y" always;\n')
    (server / "ghi-chu.txt").write_text("không gửi")
    site, upload = tmp_path / "srv" / "site", tmp_path / "srv" / "upload"
    upload.mkdir(parents=True)
    result = deploy(tmp_path, source, str(site), DEPLOY_SERVER_PATH=str(upload))
    assert result.returncode == 0, result.stderr
    assert files_in(upload) == ["csp.conf"]
    assert not list(site.rglob("*.conf"))
