"""Pages whose address changed since a git commit: tell the editor which redirect to add.

`make check` compares the published items and the vocabularies' slugs with those
of a commit (HEAD by default, `--since REF` in CI): an address that is gone and is
not a source in data/redirects.yml gives a warning with the line to add there.
Nothing is said outside a git work tree.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

from portal.frontmatter import parse_text
from portal.importer.state import read_redirects
from portal.problems import Problem
from portal.schema import SECTIONS, Item
from portal.vocab import VocabularyError, read_vocabulary

# Vocabularies with index pages, and the URL of each term's page.
TERM_URLS = {"linh-vuc": "/linh-vuc/{slug}/", "dia-ban": "/dia-ban/{slug}/"}
REDIRECTS = "redirects.yml"


def _git(root: Path, *args: str, data: bytes | None = None) -> bytes | None:
    """Run git in root; return its output, or None when it fails."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], input=data, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _blobs(root: Path, ref: str, paths: list[str]) -> dict[str, str]:
    """Return the text of some files at a commit (one `git cat-file --batch`)."""
    if not paths:
        return {}
    query = "".join(f"{ref}:{path}\n" for path in paths).encode()
    out = _git(root, "cat-file", "--batch", data=query)
    texts, position = {}, 0
    for path in paths:
        if out is None:
            break
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) < 3 or header[1] != b"blob":
            position = end + 1
            continue
        size = int(header[2])
        texts[path] = out[end + 1 : end + 1 + size].decode("utf-8", "replace")
        position = end + 1 + size + 1
    return texts


def _old_urls(root: Path, ref: str, content: str) -> dict[str, str]:
    """Return {URL: title} of the items published at a commit."""
    from portal.check import MARKDOWN_SUFFIXES  # portal.check imports this module

    listing = _git(root, "ls-tree", "-r", "--name-only", ref, "--", content)
    if listing is None:
        return {}
    paths = [
        p
        for p in listing.decode().splitlines()
        if p.endswith(MARKDOWN_SUFFIXES)
        and Path(p).relative_to(content).parts[0] in SECTIONS
    ]
    urls = {}
    for path, text in _blobs(root, ref, paths).items():
        doc = parse_text(path, text)
        if doc.problems or doc.meta.get("status", "published") != "published":
            continue
        section = Path(path).relative_to(content).parts[0]
        prefix = SECTIONS[section][1]
        slug = doc.meta.get("slug") or Path(path).stem
        urls[f"/{prefix}{slug}/"] = str(doc.meta.get("title", ""))
    return urls


def check_renames(
    content: Path, data: Path, items: Iterable[Item], ref: str = "HEAD"
) -> list[Problem]:
    """Warn about addresses of a commit that are gone without a redirect."""
    top = _git(content, "rev-parse", "--show-toplevel")
    if top is None:
        return []
    root = Path(top.decode().strip())
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") is None:
        return []
    items = [i for i in items if i.meta.get("slug") and i.meta.get("status") != "draft"]
    now = {"/" + item.url: item for item in items}
    redirected = set(read_redirects(data / REDIRECTS))
    display = (data / REDIRECTS).as_posix()
    problems = []
    content_rel = _relative(root, content)
    for url, title in sorted(_old_urls(root, ref, content_rel).items()):
        if url in now or url in redirected:
            continue
        same = [i for i in items if i.meta.get("title") == title]
        target = "/" + same[0].url if same else "/tin-tuc/ten-bai-moi/"
        where = same[0].path if same else display
        problems.append(_problem(where, url, f"bài “{title}”", target))
    problems += _term_renames(root, data, ref, redirected, display)
    return problems


def _term_renames(
    root: Path, data: Path, ref: str, redirected: set[str], display: str
) -> list[Problem]:
    """Warn about vocabulary terms whose slug (and so index page) changed."""
    problems = []
    data_rel = _relative(root, data)
    for name, pattern in TERM_URLS.items():
        path = data / f"{name}.yml"
        old_text = _blobs(root, ref, [f"{data_rel}/{name}.yml"]).get(
            f"{data_rel}/{name}.yml"
        )
        if old_text is None or not path.is_file():
            continue
        try:
            old = yaml.safe_load(old_text) or {}
            current = read_vocabulary(path)
        except (yaml.YAMLError, VocabularyError):
            continue
        slugs = {term.slug for term in current}
        for raw in old.get("terms") or []:
            if not isinstance(raw, dict) or not raw.get("slug"):
                continue
            url = pattern.format(slug=raw["slug"])
            if raw["slug"] in slugs or url in redirected:
                continue
            term = current.lookup(str(raw.get("name", "")))
            target = (
                pattern.format(slug=term.slug) if term else pattern.format(slug="…")
            )
            label = f"mục “{raw.get('name', raw['slug'])}” của data/{name}.yml"
            problems.append(_problem(path.as_posix(), url, label, target))
    return problems


def _problem(where: str, url: str, what: str, target: str) -> Problem:
    """Word the warning and its fix: the redirect line to add."""
    return Problem(
        where,
        "slug",
        f"địa chỉ {url} của {what} không còn; bạn đọc và máy tìm kiếm sẽ gặp lỗi 404",
        f'nếu đã đổi tên, thêm vào data/redirects.yml dòng: “"{url}": {target}”',
        severity="warning",
    )


def _relative(root: Path, path: Path) -> str:
    """Return a path relative to the git work tree, in git's form."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
