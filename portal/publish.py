"""Publish the site without ever shipping half of it: `python -m portal.publish`.

The production build (publishconf.py) runs into `output.staging/`, with its own
cache (cache/publish, set in publishconf.py). Only when the build succeeds is
the staging folder swapped in (in one step on Linux, else by two renames); on
any failure `output/` is left exactly as it was.

The folders are double-buffered: after a swap, the previous site stays in
`output.staging/` and the next publish builds into it, instead of copying the
whole site first (37,572 files at 5,000 items: 10-30 s). That folder holds the
site as it was one publish ago; the build checks it against the record of its
last build like any output folder (plugins/incremental/record.py: a file the
record does not vouch for is removed, a missing or changed one written again),
so only what changed in the last two publishes is rendered again and the result
is byte-identical to a clean build. Only when there is no staging folder is one
made, as a copy of `output/` with file times kept (the compressed copies, which
are only ever replaced, as hard links); with `--reuse-output` (CI, where output/
is the last site restored from a cache and served by nobody: `make publish
PUBLISHOPTS=--reuse-output` in .github/workflows/site.yml) output/ is moved there
instead.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from portal.files import link_or_copy

# Linux renameat2(2): swap two paths atomically (no moment without an output/).
AT_FDCWD = -100
RENAME_EXCHANGE = 2


# Files no writer ever writes into: plugins/assets writes its compressed copies
# with portal.files.write_atomic (a new file renamed into place) and removes
# orphans with unlink. Staged as hard links (about a third of the files at 5,000
# items); every other file is copied, since Pelican and Pagefind may rewrite a
# file in place, which would change output/ through a shared inode.
LINKED_SUFFIXES = (".gz", ".br")


def stage(output: Path, staging: Path, reuse_output: bool = False) -> None:
    """Prepare the staging folder: the one the last swap left, else a copy of output.

    With `reuse_output` (CI: output/ is a copy restored from a cache, served by
    nobody), output/ itself is moved there instead of copied.
    """
    if staging.is_dir() and not staging.is_symlink():
        return  # the site before the last publish: the build's record check fixes it
    remove(staging)
    if reuse_output and output.is_dir() and not output.is_symlink():
        output.rename(staging)
    elif output.is_dir():
        shutil.copytree(output, staging, symlinks=True, copy_function=_stage_file)
    else:
        staging.mkdir(parents=True)


def _stage_file(source: str, target: str) -> None:
    """Link a file only ever replaced, copy any other (times kept either way)."""
    if source.endswith(LINKED_SUFFIXES):
        link_or_copy(source, target)
    else:
        shutil.copy2(source, target)


def remove(path: Path) -> None:
    """Remove a folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def build(content: Path, staging: Path, settings: Path, extra: Sequence[str]) -> int:
    """Run Pelican into the staging folder; return its exit status."""
    command = [sys.executable, "-m", "pelican", str(content), "-o", str(staging)]
    command += ["-s", str(settings), "--log-handler", "plain", *extra]
    return subprocess.run(command, check=False).returncode


def exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step (Linux renameat2); tell whether it worked."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    status = renameat2(
        AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE
    )
    return status == 0


def swap(staging: Path, output: Path) -> None:
    """Put the staging folder in place of the output; the old site becomes staging."""
    if output.is_dir() and exchange(staging, output):
        return  # staging now holds the previous site: the next publish builds there
    old = output.with_name(output.name + ".old")
    remove(old)
    if output.exists():
        output.rename(old)
    try:
        staging.rename(output)
    except OSError:
        if old.exists():
            old.rename(output)
        raise
    if old.exists():
        old.rename(staging)


def publish(
    content: Path,
    output: Path,
    settings: Path,
    extra: Sequence[str] = (),
    reuse_output: bool = False,
) -> int:
    """Build into a staging copy and swap it in only on success; return the status."""
    staging = output.with_name(output.name + ".staging")
    # The build's files for nginx (portal.serverfiles) land beside the staging
    # folder; they are moved beside the output with it.
    staging_server = staging.with_name(staging.name + "-server")
    stage(output, staging, reuse_output)
    remove(staging_server)
    status = build(content, staging, settings, extra)
    if status != 0:
        # The staging folder is kept: the record of the last successful build
        # still describes it, so the next build removes what this one left.
        remove(staging_server)
        print(
            f"LỖI Xuất bản thất bại (mã {status}); trang đang chạy trong "
            f"{output}/ được giữ nguyên. Sửa các lỗi ở trên rồi chạy lại.",
            file=sys.stderr,
        )
        return status
    swap(staging, output)
    if staging_server.is_dir():
        output_server = output.with_name(output.name + "-server")
        remove(output_server)
        staging_server.rename(output_server)
    print(f"Đã xuất bản vào {output}/.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and publish."""
    parser = argparse.ArgumentParser(
        description="Xuất bản trang: dựng vào bản sao tạm, chỉ thay khi thành công."
    )
    parser.add_argument("--content", default="content", type=Path)
    parser.add_argument("--output", default="output", type=Path)
    parser.add_argument("-s", "--settings", default="publishconf.py", type=Path)
    parser.add_argument(
        "--reuse-output",
        action="store_true",
        help="CI: output/ là bản khôi phục từ cache, không ai phục vụ; dựng thẳng trên"
        " nó thay vì chép (lỗi thì không còn output/)",
    )
    parser.add_argument(
        "extra", nargs=argparse.REMAINDER, help="thêm tham số cho pelican, sau --"
    )
    args = parser.parse_args(argv)
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra
    return publish(args.content, args.output, args.settings, extra, args.reuse_output)


if __name__ == "__main__":
    sys.exit(main())
