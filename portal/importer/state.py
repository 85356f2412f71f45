"""What was imported before (import/imported.json), and data/redirects.yml lines."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

from portal.files import write_atomic

MANIFEST = "imported.json"
# Characters kept as they are in a request line; the rest is %-encoded.
_SAFE = "/%:@!$&'()*+,;=-._~"
REDIRECTS_HEADER = """\
# Chuyển hướng từ địa chỉ của cổng cũ sang trang mới (301).
# Mỗi dòng: "đường dẫn cũ (có thể kèm ?tham số)": /đường-dẫn-mới/
# Công cụ nhập bài (make import-accept) tự thêm dòng; biên tập viên có thể thêm tay.
# Xem docs/CHUYEN-DU-LIEU.md.
"""


def digest(text: str) -> str:
    """Return the SHA-256 of a text, to tell whether an editor changed a file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Manifest:
    """Every article imported so far, by key (legacy URL or content hash)."""

    path: Path
    entries: dict[str, dict]

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """Read the manifest of an import folder (empty when there is none)."""
        path = folder / MANIFEST
        entries = json.loads(path.read_text("utf-8")) if path.is_file() else {}
        return cls(path, entries)

    def save(self) -> None:
        """Write the manifest, sorted, so that its diffs stay small."""
        text = json.dumps(self.entries, ensure_ascii=False, indent=1, sort_keys=True)
        write_atomic(self.path, (text + "\n").encode("utf-8"))

    def paths(self) -> set[str]:
        """Return every file path the manifest knows."""
        return {entry["path"] for entry in self.entries.values()}

    def find_path(self, path: str) -> tuple[str, dict] | None:
        """Return the key and entry of the article written at a path."""
        for key, entry in self.entries.items():
            if entry["path"] == path:
                return key, entry
        return None


def legacy_path(url: str) -> str:
    """Return a legacy URL as browsers request it: host dropped, non-ASCII %-encoded."""
    parts = urlsplit(url.strip())
    path = quote(parts.path or "/", safe=_SAFE)
    return f"{path}?{quote(parts.query, safe=_SAFE + '?')}" if parts.query else path


def read_redirects(path: Path) -> dict[str, str]:
    """Return data/redirects.yml as {legacy path: our path} (empty if absent)."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def add_redirect(path: Path, source: str, target: str) -> bool:
    """Append one redirect to data/redirects.yml unless its source is there."""
    if source in read_redirects(path):
        return False
    text = path.read_text("utf-8") if path.is_file() else REDIRECTS_HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"{json.dumps(source, ensure_ascii=False)}: {target}\n"
    write_atomic(path, text.encode("utf-8"))
    return True
