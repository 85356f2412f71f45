"""Regenerate data/dia-ban.yml from the pinned packages, keeping hand-written fields.

    .venv/bin/python scripts/update_localities.py [--check]

Sources (both pinned in pyproject.toml, extra "dev"):
- the 124 units of the new Lâm Đồng (since 01/7/2025) and their official codes:
  PyPI `vietnam-provinces` (data from the national list of administrative units);
- the former districts and the old-to-new mapping (which former communes, of which
  district, make each new unit): PyPI `vietnamadminunits` (its data files only;
  the package's code, which needs geocoding libraries, is not imported). The
  mapping follows Nghị quyết 1671/NQ-UBTVQH15 (16/6/2025) on the communes of
  Lâm Đồng and Nghị quyết 202/2025/QH15 (12/6/2025) on merging the provinces.

Kept from the existing file: every term the packages do not know (e.g. "Cấp tỉnh"),
the slug, aliases and note of every term, and the name and full name of former
units. `--check` writes nothing and exits 1 if the file is not what it would write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from portal.text import fold, normalise_key, slugify  # noqa: E402

DATA = ROOT / "data" / "dia-ban.yml"
REFORM = dt.date(2025, 7, 1)
ENDED = REFORM - dt.timedelta(days=1)
NEW_PROVINCE = "tinhlamdong"
# Former provinces merged into the new Lâm Đồng: package key -> (slug, name, full name).
FORMER_PROVINCES = {
    "tinhbinhthuan": ("binh-thuan", "Bình Thuận", "Tỉnh Bình Thuận"),
    "tinhlamdong": ("lam-dong-cu", "Lâm Đồng (cũ)", "Tỉnh Lâm Đồng (trước 01/7/2025)"),
    "tinhdaknong": ("dak-nong", "Đắk Nông", "Tỉnh Đắk Nông"),
}
PARTIAL = "một phần"
ORDER = (
    "slug",
    "name",
    "full_name",
    "aliases",
    "level",
    "part_of",
    "code",
    "valid_from",
    "valid_to",
    "preceded_by",
    "succeeded_by",
    "note",
)
HEADER = """\
# Danh mục ĐỊA BÀN (địa phương nơi mô hình được công nhận, nơi có tin).
# TỆP NÀY DO scripts/update_localities.py TẠO RA: chạy lại script sau khi sửa.
# Biên tập viên được sửa tay: aliases (cách gọi khác), note (ghi chú), và thêm mục
# mới không có mã (như "Cấp tỉnh"); script giữ nguyên những gì sửa tay đó.
# Đừng đổi "slug" của mục đã có bài.
#
# Từ 01/7/2025 chính quyền địa phương có hai cấp: tỉnh Bình Thuận, Lâm Đồng, Đắk Nông
# hợp nhất thành tỉnh Lâm Đồng (Nghị quyết 202/2025/QH15) với 124 xã, phường, đặc khu
# (Nghị quyết 1671/NQ-UBTVQH15). Nguồn dữ liệu: gói PyPI vietnam-provinces {vp}
# (danh sách và mã đơn vị mới), vietnamadminunits {vau} (đơn vị cũ và bảng chuyển đổi).
#
# Mỗi mục: slug, name, full_name, aliases; level (tỉnh | huyện | xã); part_of (slug
# đơn vị cấp trên); code (mã đơn vị hành chính); valid_from / valid_to (ngày đầu,
# ngày cuối còn hiệu lực); preceded_by / succeeded_by (danh sách slug, hoặc
# {{term: slug, note: một phần}} khi xã mới gồm địa bàn của nhiều huyện cũ, hoặc chỉ
# nhận một phần của một xã cũ bị chia).
"""


def package_data(name: str, relative: str) -> dict:
    """Read a data file shipped in an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"cần cài gói {name}: .venv/bin/pip install -e '.[dev]'")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return json.loads(path.read_text("utf-8"))


def version(name: str) -> str:
    """Return an installed distribution's version."""
    from importlib.metadata import version as get

    return get(name)


def key(text: str) -> str:
    """Fold a name into vietnamadminunits' key form ("Huyện Phú Quí" -> huyenphuqui)."""
    return re.sub(r"[^0-9a-z]+", "", fold(text).lower().replace("đ", "d"))


def _loose(text: str) -> str:
    """Fold a name, treating i and y alike (Phú Quý, Phú Quí)."""
    return key(text).replace("y", "i")


def read_existing(path: Path) -> list[dict]:
    """Return the terms of the current file (an empty list when there is none)."""
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return list(data.get("terms") or [])


def new_units() -> tuple[dict, list]:
    """Return the new province and its units from vietnam-provinces."""
    from vietnam_provinces import Province, Ward

    province = next(p for p in Province.iter_all() if key(p.name) == "lamdong")
    return province, sorted(Ward.iter_by_province(province.code), key=lambda w: w.name)


def _type_prefix(name: str) -> tuple[str, str]:
    """Split "Xã Hàm Liêm" into ("Xã", "Hàm Liêm")."""
    for prefix in ("Đặc khu", "Phường", "Xã"):
        if name.startswith(prefix + " "):
            return prefix, name[len(prefix) + 1 :]
    raise SystemExit(f"không rõ loại đơn vị của “{name}”")


def mapping() -> tuple[dict, dict]:
    """Return former districts, and for each new unit key its (district, partial) set."""
    legacy = package_data("vietnamadminunits", "data/parser_legacy.json")
    converter = package_data("vietnamadminunits", "data/converter_2025.json")
    districts = {
        (province, district): info
        for province in FORMER_PROVINCES
        for district, info in legacy["DICT_PROVINCE_DISTRICT"][province].items()
    }
    sources: dict[str, dict[tuple, bool]] = defaultdict(dict)
    for new_key, olds in converter["DICT_PROVINCE_WARD_NO_DIVIDED"][
        NEW_PROVINCE
    ].items():
        for old in olds:
            province, district, _ = old.split("_")
            sources[new_key][(province, district)] = True
    divided = converter["DICT_PROVINCE_WARD_DIVIDED"].get(NEW_PROVINCE, {})
    for old, news in divided.items():
        province, district, _ = old.split("_")
        for new in news:
            sources[new["newWardKey"]].setdefault((province, district), False)
    return districts, sources


def build(existing: list[dict]) -> list[dict]:
    """Return the terms of the new file: hand-only terms, then former, then new units."""
    province, wards = new_units()
    districts, sources = mapping()
    # Codes are reused (Lâm Đồng is 68 before and after): former units have valid_to.
    by_code = {
        (str(t["code"]), "valid_to" in t): t
        for t in existing
        if t.get("code") is not None
    }
    by_name = {_loose(str(t.get("name", ""))): t for t in existing if "code" not in t}
    used = set()
    terms: list[dict] = []

    def merge(generated: dict, old: dict | None, keep_names: bool) -> dict:
        """Overlay an existing term's hand-written fields on a generated one."""
        if old is None:
            return generated
        used.add(id(old))
        merged = dict(generated)
        merged["slug"] = old.get("slug", generated["slug"])
        for field in ("aliases", "note"):
            if old.get(field):
                merged[field] = old[field]
        if keep_names:
            for field in ("name", "full_name"):
                if old.get(field):
                    merged[field] = old[field]
        for field, value in old.items():
            merged.setdefault(field, value)
        return merged

    former: dict[tuple, dict] = {}
    province_slugs: dict[str, str] = {}
    legacy_provinces = package_data("vietnamadminunits", "data/parser_legacy.json")
    for pkey, (slug, name, full_name) in FORMER_PROVINCES.items():
        code = legacy_provinces["DICT_PROVINCE"][pkey]["provinceCode"]
        generated = {
            "slug": slug,
            "name": name,
            "full_name": full_name,
            "level": "tỉnh",
            "code": code,
            "valid_to": ENDED,
        }
        old = by_code.get((code, True)) or by_name.get(_loose(name))
        term = merge(generated, old, True)
        province_slugs[pkey] = term["slug"]
        terms.append(term)
    for (pkey, dkey), info in districts.items():
        generated = {
            "slug": slugify(info["districtShort"]),
            "name": info["districtShort"],
            "full_name": info["district"],
            "level": "huyện",
            "part_of": province_slugs[pkey],
            "code": info["districtCode"],
            "valid_to": ENDED,
        }
        old = by_code.get((info["districtCode"], True)) or by_name.get(
            _loose(info["districtShort"])
        )
        former[(pkey, dkey)] = merge(generated, old, True)
        terms.append(former[(pkey, dkey)])
    # Hand-only terms (no code) first, in their written order.
    terms[:0] = [t for t in existing if id(t) not in used and "code" not in t]
    taken = {t["slug"] for t in terms}
    spellings = {
        normalise_key(s)
        for t in terms
        for s in [t["name"], t.get("full_name") or "", *(t.get("aliases") or [])]
        if s
    }
    new_province = merge(
        {
            "slug": "lam-dong",
            "name": province.name,
            "full_name": f"Tỉnh {province.name}",
            "level": "tỉnh",
            "code": f"{province.code.value:02d}",
            "valid_from": REFORM,
            "preceded_by": list(province_slugs.values()),
        },
        by_code.get((f"{province.code.value:02d}", False)),
        False,
    )
    terms.append(new_province)
    for pslug in province_slugs.values():
        next(t for t in terms if t["slug"] == pslug)["succeeded_by"] = [
            new_province["slug"]
        ]
    successors: dict[int, list] = defaultdict(list)
    for ward in wards:
        _, bare = _type_prefix(ward.name)
        slug = slugify(bare)
        if slug in taken:
            slug = slugify(ward.name)
        origin = sources.get(key(ward.name))
        if not origin:
            raise SystemExit(f"vietnamadminunits không có nguồn gốc của “{ward.name}”")
        # "một phần": the unit spans several former districts, or took only part
        # of a divided commune; the link then covers only part of either area.
        if len(origin) > 1:
            origin = dict.fromkeys(origin, False)
        preceded = []
        for district, whole in sorted(origin.items(), key=lambda kv: not kv[1]):
            previous = former[district]
            preceded.append(previous["slug"] if whole else _partial(previous["slug"]))
        generated = {
            "slug": slug,
            "name": ward.name,
            "full_name": ward.name,
            "level": "xã",
            "part_of": new_province["slug"],
            "code": f"{ward.code.value:05d}",
            "valid_from": REFORM,
            "preceded_by": preceded,
        }
        if normalise_key(bare) not in spellings:
            generated["aliases"] = [bare]
        term = merge(generated, by_code.get((generated["code"], False)), False)
        taken.add(term["slug"])
        terms.append(term)
        for district, whole in origin.items():
            entry = term["slug"] if whole else _partial(term["slug"])
            successors[id(former[district])].append(entry)
    for term in former.values():
        term["succeeded_by"] = successors[id(term)]
    return terms


def _partial(slug: str) -> dict:
    """Return a successor or predecessor entry that covers only part of an area."""
    return {"term": slug, "note": PARTIAL}


def _scalar(value) -> str:
    """Render one YAML scalar (dates as dates, codes as strings)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = yaml.safe_dump(value, allow_unicode=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _flow(value) -> str:
    """Render a list or mapping on one line."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def render(terms: list[dict]) -> str:
    """Return the file's text: a fixed header, then one block per term."""
    lines = [
        HEADER.format(vp=version("vietnam-provinces"), vau=version("vietnamadminunits"))
        + "label: Địa bàn",
        "terms:",
    ]
    for term in terms:
        keys = [k for k in ORDER if k in term] + [k for k in term if k not in ORDER]
        for index, name in enumerate(keys):
            value = term[name]
            lead = "  - " if index == 0 else "    "
            if isinstance(value, list) and len(_flow(value)) > 70:
                lines.append(f"{lead}{name}:")
                lines += [f"      - {_flow(v)}" for v in value]
            else:
                lines.append(f"{lead}{name}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the file, or with --check tell whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="chỉ kiểm tra, không ghi")
    parser.add_argument("--path", type=Path, default=DATA)
    args = parser.parse_args(argv)
    text = render(build(read_existing(args.path)))
    current = args.path.read_text("utf-8") if args.path.is_file() else ""
    if args.check:
        if text != current:
            print(f"{args.path}: chưa khớp với các gói; chạy {Path(__file__).name}")
            return 1
        return 0
    if text != current:
        from portal.files import write_atomic

        write_atomic(args.path, text.encode("utf-8"))
        print(f"{args.path}: đã cập nhật")
    return 0


if __name__ == "__main__":
    sys.exit(main())
