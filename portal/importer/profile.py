"""A legacy site's profile (YAML): where each part of an article is in its pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

SELECTORS = ("title", "date", "summary", "body", "images", "caption", "category", "url")
SECTIONS = ("news", "models")


class ProfileError(ValueError):
    """The profile is wrong; the message says where and how to fix it."""


@dataclass(frozen=True)
class Profile:
    """CSS selectors of one legacy page layout, and where its articles go."""

    name: str = "feed"
    base_url: str = ""
    selectors: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    section: str = "news"
    # legacy category (as printed) -> section ("news" or "models")
    sections: dict[str, str] = field(default_factory=dict)

    def section_for(self, category: str) -> str:
        """Return the content folder for an article of this legacy category."""
        wanted = " ".join(category.split()).casefold()
        for name, section in self.sections.items():
            if " ".join(name.split()).casefold() == wanted:
                return section
        return self.section


def load_profile(path: Path) -> Profile:
    """Read a profile file, or say in Vietnamese what is wrong with it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path}: không đọc được hồ sơ trang cũ: {error}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: hồ sơ phải là các dòng “tên: giá trị”")
    selectors = data.get("selectors") or {}
    if not isinstance(selectors, dict) or not selectors.get("body"):
        raise ProfileError(
            f"{path}: thiếu “selectors:” với ít nhất “body:” (vùng nội dung bài)"
        )
    unknown = sorted(set(selectors) - set(SELECTORS))
    if unknown:
        raise ProfileError(
            f"{path}: selectors: không có mục “{unknown[0]}”; dùng: "
            + ", ".join(SELECTORS)
        )
    section = str(data.get("section") or "news")
    sections = {str(k): str(v) for k, v in (data.get("sections") or {}).items()}
    for value in (section, *sections.values()):
        if value not in SECTIONS:
            raise ProfileError(
                f"{path}: “{value}” không phải mục nội dung; dùng news hoặc models"
            )
    remove = data.get("remove") or []
    if isinstance(remove, str):
        remove = [remove]
    return Profile(
        name=str(data.get("name") or path.stem),
        base_url=str(data.get("base_url") or ""),
        selectors={str(k): str(v) for k, v in selectors.items()},
        remove=tuple(str(r) for r in remove),
        section=section,
        sections=sections,
    )
