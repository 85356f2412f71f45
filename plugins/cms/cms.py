"""cms: the web editor at /quan-tri/ (Decap CMS), configured from our own schema.

The generator writes `quan-tri/index.html`, `quan-tri/config.yml` and the editor's
script, and copies Decap's bundle from `node_modules/decap-cms/dist` into
`quan-tri/decap-<hash>/`. The configuration is made at build time from
`portal/schema.py` (fields, required or not) and the vocabularies read through
`portal/vocab.py` (select lists show the names readers see), so it cannot drift
from what `make check` accepts. The bundle is compressed once per version (by its
hash, in `cache_dir`) and copied into the output, never re-compressed per build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import logging
import marshal
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pelican import signals
from pelican.generators import Generator

from portal import outputs, schema, vocab
from portal.files import keep_newest, write_atomic
from portal.frontmatter import LIMITS, Limits
from portal.options import merge_options
from portal.problems import ContentError

try:
    import brotli
except ImportError:  # pragma: no cover - brotli is pinned
    brotli = None

__all__ = [
    "CmsError",
    "WIDGETS",
    "admin_policy",
    "editor_config",
    "get_options",
    "register",
]

log = logging.getLogger(__name__)
PREFIX = "cms"
SETTING = "CMS"
REPO = Path(__file__).resolve().parents[2]
DEFAULTS: Mapping[str, Any] = {
    "enabled": True,
    "url": "quan-tri/",  # where the editor lives, relative to the site root
    # Passed to Decap as `backend:` (github with an OAuth helper, gitea, …).
    "backend": {"name": "github", "repo": "OWNER/REPO", "branch": "main"},
    # The local proxy (`npx decap-server`, started by `make cms`); None: off.
    "local_backend": None,
    "publish_mode": "editorial_workflow",  # or "simple"
    "bundle_dir": str(REPO / "node_modules" / "decap-cms" / "dist"),
    "cache_dir": str(REPO / "cache" / "cms"),  # compressed bundles, by hash
    "brotli_quality": 11,  # 11 for production; a lower one compresses in seconds
    "required": False,  # True: a missing bundle fails the build (make publish)
    "admin_dir": str(REPO / "theme" / "admin"),  # admin.js, locale-vi.json
}
BUNDLE_MAIN = "decap-cms.js"
# Back-ends without Decap's editorial workflow (Decap's gitea back-end refuses it;
# its forgejo back-end has it): they get publish_mode "simple".
SIMPLE_ONLY = frozenset({"gitea"})
COMPRESS_SUFFIXES = (".js", ".txt")
# Cache folders of earlier versions were hard-linked into outputs (and could be
# changed through them): not reused.
CACHE_VERSION = "c2"
CONFIGS_KEPT = 4  # config.yml texts kept in cache_dir (one per profile and more)

# The editor's widget for every front-matter field of portal/schema.py: label, hint.
WIDGETS: Mapping[str, dict[str, Any]] = {
    "title": {"label": "Tiêu đề", "widget": "string"},
    "summary": {
        "label": "Tóm tắt",
        "widget": "text",
        "hint": "Một hai câu, hiện dưới tiêu đề và trong danh sách.",
    },
    "category": {"label": "Lĩnh vực", "widget": "select"},
    "locality": {
        "label": "Địa bàn",
        "widget": "select",
        "hint": "Địa bàn của năm được công nhận.",
    },
    "year": {"label": "Năm công nhận", "widget": "number"},
    "kind": {"label": "Hình thức", "widget": "select"},
    "unit": {
        "label": "Đơn vị thực hiện",
        "widget": "string",
        "hint": "Ví dụ: Hội Liên hiệp Phụ nữ xã Hàm Đức.",
    },
    "models": {
        "label": "Mô hình liên quan",
        "widget": "relation",
        "hint": "Gõ vài chữ của tên mô hình rồi chọn.",
    },
    "author": {"label": "Tác giả", "widget": "string"},
    "date": {"label": "Ngày đăng", "widget": "datetime"},
    "image": {
        "label": "Ảnh đại diện",
        "widget": "image",
        "hint": "Ảnh JPEG hoặc PNG, dưới 25 MB.",
    },
    "image_alt": {
        "label": "Mô tả ảnh",
        "widget": "dvk-alt",  # a string required with an image (theme/admin/admin.js)
        "hint": "Bắt buộc khi có ảnh: tả ngắn gọn nội dung ảnh cho người khiếm thị.",
    },
    "image_caption": {"label": "Chú thích ảnh", "widget": "string"},
    "tags": {
        "label": "Từ khóa",
        "widget": "list",
        "hint": "Cách nhau bằng dấu phẩy.",
    },
    "featured": {"label": "Nổi bật trên trang chủ", "widget": "boolean"},
    "scheduled": {
        "label": "Hẹn giờ đăng",
        "widget": "boolean",
        "hint": "Bật khi ngày đăng ở tương lai: bài chờ tới ngày đó mới lên trang.",
    },
    "order": {
        "label": "Thứ tự",
        "widget": "number",
        "hint": "Số nhỏ đứng trước trong thanh điều hướng.",
    },
    "status": {"label": "Trạng thái", "widget": "select"},
    "slug": {
        "label": "Địa chỉ web (slug)",
        "widget": "string",
        "hint": "Thường để trống: địa chỉ lấy từ tên tệp.",
    },
    "legacy_url": {
        "label": "Địa chỉ ở cổng cũ",
        "widget": "string",
        "hint": "Công cụ chuyển dữ liệu điền sẵn; để nguyên.",
    },
}
# dvk-alt: the editor refuses to save an image without its description, as make check.
ALT_MESSAGE = (
    "Có ảnh thì phải có mô tả ảnh (image_alt): tả ngắn gọn nội dung ảnh cho người"
    " khiếm thị, hoặc bỏ ảnh đi."
)
TEXT_WIDGETS = ("string", "text", "dvk-alt")
STATUS_LABELS = {"published": "Đăng lên trang", "draft": "Bản nháp (không đăng)"}
# Editor collections: content folder -> (label, singular label, preview summary).
COLLECTIONS = {
    "models": ("Mô hình, điển hình", "mô hình", "{{title}} – {{year}}"),
    "news": ("Tin tức", "tin", "{{title}}"),
    "pages": ("Trang", "trang", "{{title}}"),
}
FIELD_ORDER = (
    "title",
    "summary",
    "category",
    "locality",
    "year",
    "kind",
    "unit",
    "models",
    "author",
    "date",
    "image",
    "image_alt",
    "image_caption",
    "body",
    "tags",
    "featured",
    "scheduled",
    "order",
    "status",
    "slug",
    "legacy_url",
)


class CmsError(ContentError):
    """The CMS setting is wrong, or the editor's bundle is missing when required.

    An operator's error: its message says what to do, and the build stops with
    exit status 1 and no traceback (portal/buildpolicy.py).
    """


def get_options(settings: Mapping) -> dict[str, Any]:
    """Merge the CMS setting with the defaults and check it once."""
    options = merge_options(settings, SETTING, DEFAULTS, PREFIX, CmsError)
    url = str(options["url"])
    if not url.endswith("/") or url.startswith("/") or ".." in url.split("/"):
        raise CmsError(
            f"{PREFIX}: {SETTING}['url'] phải là đường dẫn tương đối, không có '..',"
            f" kết thúc bằng '/' (ví dụ 'quan-tri/'), không phải {url!r}"
        )
    if not isinstance(options["backend"], Mapping) or "name" not in options["backend"]:
        raise CmsError(
            f"{PREFIX}: {SETTING}['backend'] phải là một dict có khóa 'name'"
            " (github, forgejo hoặc gitea)"
        )
    if options["publish_mode"] not in ("simple", "editorial_workflow"):
        raise CmsError(
            f"{PREFIX}: {SETTING}['publish_mode'] phải là 'simple' hoặc"
            " 'editorial_workflow'"
        )
    if options["brotli_quality"] not in range(12):
        raise CmsError(f"{PREFIX}: {SETTING}['brotli_quality'] phải là số từ 0 đến 11")
    local = options["local_backend"]
    if local is not None and not str(local).startswith(("http://127.", "http://local")):
        raise CmsError(
            f"{PREFIX}: {SETTING}['local_backend'] phải là một địa chỉ http://127.x"
            " hoặc http://localhost, hoặc None"
        )
    return options


def _select(vocabulary: vocab.Vocabulary) -> list[dict[str, str]]:
    """Return a vocabulary's terms as select options, by the names readers see."""
    return [{"label": t.name, "value": t.name} for t in vocabulary.sorted_terms()]


def field_widget(
    name: str,
    required: bool,
    vocabularies: Mapping[str, vocab.Vocabulary],
    today: dt.date,
) -> dict[str, Any]:
    """Return the Decap field for one schema field."""
    field = {"name": name, **WIDGETS[name], "required": required}
    if name in vocab.FIELD_VOCABULARY:
        field["options"] = _select(vocabularies[vocab.FIELD_VOCABULARY[name]])
    elif name == "year":
        field |= {
            "value_type": "int",
            "min": schema.MIN_YEAR,
            "max": today.year,
            "step": 1,
        }
    elif name == "order":
        field |= {"value_type": "int", "step": 1}
    elif name == "date":
        field |= {
            "format": "YYYY-MM-DD",
            "date_format": "DD/MM/YYYY",
            "time_format": False,
        }
    elif name == "status":
        field |= {
            "options": [
                {"label": STATUS_LABELS[s], "value": s} for s in schema.STATUSES
            ],
            "default": "published",
        }
    elif name == "slug":
        field["pattern"] = [
            schema.SLUG_RE.pattern,
            "Chỉ chữ thường không dấu, số và gạch ngang, ví dụ “cho-xanh”",
        ]
    elif name == "models":
        field |= {
            "collection": "models",
            "search_fields": ["title"],
            "value_field": "{{slug}}",
            "display_fields": ["title"],
            "multiple": True,
        }
    elif name == "image":
        field |= {"choose_url": False}
    elif name == "image_alt":
        field |= {"required_with": "image", "required_message": ALT_MESSAGE}
    elif name in ("featured", "scheduled"):
        field["default"] = False
    return field


def with_limits(field: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Add the length limits `make check` applies to a text or list field."""
    if field["widget"] in TEXT_WIDGETS and "pattern" not in field:
        most = limits.chars(field["name"])
        field["pattern"] = [
            f"^[\\s\\S]{{0,{most}}}$",
            f"Tối đa {most} ký tự",
        ]
    elif field["widget"] == "list" or field.get("multiple"):
        field["max"] = limits.tags
    return field


def collection(
    folder: str,
    vocabularies: Mapping[str, vocab.Vocabulary],
    today: dt.date,
    limits: Limits = LIMITS,
) -> dict[str, Any]:
    """Return the Decap collection of one content folder, from its schema."""
    kind, _prefix = schema.SECTIONS[folder]
    label, singular, summary = COLLECTIONS[folder]
    fields = schema.SCHEMAS[kind]
    widgets = {
        name: with_limits(field_widget(name, required, vocabularies, today), limits)
        for name, (required, _checker) in fields.items()
    }
    widgets["body"] = {
        "name": "body",
        "label": "Nội dung",
        "widget": "markdown",
        "editor_components": [],
        "modes": ["rich_text", "raw"],
    }
    if "image" in widgets:
        # Stored as "/images/mo-hinh/anh.jpg": `make check` reads it under
        # content/images/, as it reads "mo-hinh/anh.jpg".
        images = schema.SECTIONS[folder][1].strip("/") or folder
        widgets["image"] |= {
            "media_folder": f"/content/images/{images}",
            "public_folder": f"/images/{images}",
        }
    return {
        "name": folder,
        "label": label,
        "label_singular": singular,
        "folder": f"content/{folder}",
        "extension": "md",
        "format": "yaml-frontmatter",
        "create": True,
        "slug": "{{slug}}",
        "identifier_field": "title",
        "summary": summary,
        "fields": [widgets[name] for name in FIELD_ORDER if name in widgets],
    }


def editor_config(
    settings: Mapping,
    options: Mapping,
    vocabularies: Mapping[str, vocab.Vocabulary],
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Return Decap's whole configuration for this site."""
    today = today or dt.date.today()
    limits = Limits.from_mapping((settings.get("FRONTMATTER") or {}).get("limits"))
    site_url = str(settings.get("SITEURL") or "")
    backend = dict(options["backend"])
    mode = options["publish_mode"]
    if backend["name"] in SIMPLE_ONLY and mode == "editorial_workflow":
        log.info("%s: back-end %s has no editorial workflow", PREFIX, backend["name"])
        mode = "simple"
    config: dict[str, Any] = {
        "backend": backend,
        "publish_mode": mode,
        "locale": "vi",
        "media_folder": "content/images",
        "public_folder": "/images",
        "slug": {
            "encoding": "ascii",
            "clean_accents": True,
            "sanitize_replacement": "-",
        },
        "collections": [
            collection(f, vocabularies, today, limits) for f in schema.SECTIONS
        ],
    }
    if site_url.startswith(("http://", "https://")):
        config["site_url"] = config["display_url"] = site_url
    if options["local_backend"]:
        config["local_backend"] = {
            "url": options["local_backend"],
            "allowed_hosts": ["127.0.0.1", "localhost"],
        }
    return config


def config_text(config: Mapping, cache: Path) -> bytes:
    """Return config.yml's bytes, kept in cache by a digest of the config's data.

    PyYAML's pure-Python representer took 0.03-0.09 s per build for the same
    text: the config's marshal bytes (version 0: equal data, equal bytes) and
    PyYAML's version name the text it dumps to.
    """
    try:
        data = marshal.dumps(config, 0)
    except ValueError:  # a value marshal does not know: dumped every time
        return _dump_config(config)
    key = hashlib.sha256(yaml.__version__.encode() + b"\0" + data).hexdigest()
    memo = cache / f"config-{key[:32]}.yml"
    with contextlib.suppress(OSError):
        return memo.read_bytes()
    text = _dump_config(config)
    with contextlib.suppress(OSError):  # a cache that cannot be written: none
        write_atomic(memo, text, 0o644)
        keep_newest(cache, "config-*.yml", CONFIGS_KEPT)  # the profiles' configs stay
    return text


def _dump_config(config: Mapping) -> bytes:
    """Dump the editor's configuration as YAML (UTF-8)."""
    return yaml.safe_dump(
        config, allow_unicode=True, sort_keys=False, width=1000
    ).encode("utf-8")


def _origin(url: str) -> str:
    """Return the scheme://host[:port] of a URL, or "" for a relative one."""
    if "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def admin_policy(options: Mapping) -> str:
    """Return the editor page's Content-Security-Policy (Decap needs eval, inline CSS)."""
    backend = options["backend"]
    connect = ["'self'", "blob:", "data:"]
    images = ["'self'", "data:", "blob:"]
    if backend["name"] == "github":
        connect.append(_origin(backend.get("api_root", "https://api.github.com")))
        images.append("https://avatars.githubusercontent.com")
    for key in ("api_root", "base_url"):
        if backend.get(key) and backend["name"] != "github":
            connect.append(_origin(backend[key]))
    if options["local_backend"]:
        connect.append(_origin(options["local_backend"]))
    connect = list(dict.fromkeys(c for c in connect if c))
    return (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; "
        f"img-src {' '.join(images)}; font-src 'self' data:; "
        f"connect-src {' '.join(connect)}; frame-src 'self' blob:; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'"
    )


def bundle_files(dist: Path) -> list[Path]:
    """List the files of Decap's bundle a browser loads (no source maps, no cms.js)."""
    return sorted(
        path
        for path in dist.iterdir()
        if path.is_file()
        and (
            path.name.endswith(("." + BUNDLE_MAIN, ".wasm"))
            or path.name in (BUNDLE_MAIN, BUNDLE_MAIN + ".LICENSE.txt")
        )
    )


def bundle_digest(files: list[Path]) -> str:
    """Return 8 hex digits of the SHA-256 of a bundle's names and bytes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def cached_bundle(files: list[Path], cache: Path, quality: int = 11) -> Path:
    """Return the cache folder holding the bundle and its .gz/.br copies, made once."""
    if (cache / ".complete").is_file():
        return cache
    log.info("%s: compressing the editor's bundle once into %s", PREFIX, cache)
    for path in files:
        data = path.read_bytes()
        write_atomic(cache / path.name, data, 0o644)
        if path.suffix in COMPRESS_SUFFIXES:
            write_atomic(
                cache / (path.name + ".gz"), gzip.compress(data, 9, mtime=0), 0o644
            )
            if brotli is not None:
                write_atomic(
                    cache / (path.name + ".br"),
                    brotli.compress(data, quality=quality),
                    0o644,
                )
    write_atomic(cache / ".complete", b"")
    return cache


def copy_tree(source: Path, target: Path) -> Iterator[Path]:
    """Copy every file of source into target (times kept); yield the targets.

    Copied, not hard-linked: a file of the output written into in place (by
    hand, by a tool) must never change the cached bundle every build copies.
    """
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.name.startswith("."):
            continue
        destination = target / path.name
        kept, wanted = _stamp(destination), _stamp(path)
        if kept != wanted:
            destination.unlink(missing_ok=True)
            shutil.copy2(path, destination)
        yield destination


def _stamp(path: Path) -> tuple[int, int] | None:
    """Return a file's size and time, or None when it is missing."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_size, status.st_mtime_ns


class CmsGenerator(Generator):
    """Write the web editor: its page, its configuration and Decap's bundle."""

    def generate_context(self) -> None:
        """Check the options and make the editor's configuration."""
        self.options = get_options(self.settings)
        self.config = None
        if not self.options["enabled"]:
            return
        self.dist = Path(self.options["bundle_dir"])
        if not (self.dist / BUNDLE_MAIN).is_file():
            missing = (
                f"{PREFIX}: chưa có trình soạn thảo web ({self.dist / BUNDLE_MAIN}"
                " không có)"
            )
            if self.options["required"]:
                raise CmsError(
                    f"{missing}, chưa dựng trang nào. Chạy `npm ci` (cài"
                    " node_modules/ theo package-lock.json) rồi chạy lại; muốn xuất"
                    " bản không có trình soạn thảo thì chạy `CMS_ENABLED=0 make publish`."
                )
            log.warning(
                "%s: chạy `npm ci` (hoặc `make cms`) rồi dựng lại; lần này bỏ qua /%s",
                missing,
                self.options["url"],
            )
            return
        self.config = editor_config(
            self.settings, self.options, vocab.from_settings(self.settings)
        )

    def generate_output(self, writer) -> None:
        """Write /quan-tri/: bundle, script, config.yml and index.html."""
        if self.config is None:
            return
        folder = Path(self.output_path) / self.options["url"]
        files = bundle_files(self.dist)
        digest = bundle_digest(files)
        quality = self.options["brotli_quality"]
        cache = cached_bundle(
            files,
            Path(self.options["cache_dir"]) / f"{digest}-br{quality}-{CACHE_VERSION}",
            quality,
        )
        written = list(copy_tree(cache, folder / f"decap-{digest}"))
        script = self.admin_script()
        script_name = f"admin.{hashlib.sha256(script).hexdigest()[:8]}.js"
        config = config_text(self.config, Path(self.options["cache_dir"]))
        page = self.admin_page(f"decap-{digest}/{BUNDLE_MAIN}", script_name)
        for name, data in (
            (script_name, script),
            ("config.yml", config),
            ("index.html", page),
        ):
            path = folder / name
            if not path.is_file() or path.read_bytes() != data:
                write_atomic(path, data, 0o644)
            written.append(path)
        for path in written:
            outputs.declare(path)
        log.info("%s: wrote the web editor into %s", PREFIX, folder)

    def admin_script(self) -> bytes:
        """Return the editor's own script: the Vietnamese locale, then admin.js."""
        admin = Path(self.options["admin_dir"])
        locale = json.loads((admin / "locale-vi.json").read_text("utf-8"))
        code = (admin / "admin.js").read_text("utf-8")
        head = "const DVK_LOCALE_VI = " + json.dumps(locale, ensure_ascii=False)
        return (head + ";\n" + code).encode("utf-8")

    def admin_page(self, bundle: str, script: str) -> bytes:
        """Render the editor's HTML page."""
        site_url = str(self.settings.get("SITEURL") or "")
        asset = self.env.filters.get("asset", lambda path: f"theme/{path}")
        template = self.env.from_string(
            (Path(self.options["admin_dir"]) / "index.html").read_text("utf-8")
        )
        here = f"{site_url}/{self.options['url']}"
        html = template.render(
            policy=admin_policy(self.options),
            bundle=here + bundle,
            script=here + script,
            config_url=here + "config.yml",
            css_url=f"{site_url}/{asset('css/site.css')}",
            favicon_url=f"{site_url}/{asset('img/favicon.svg')}",
            site_url=site_url,
            SITENAME=self.settings.get("SITENAME", ""),
        )
        return html.encode("utf-8")


def get_generators(pelican) -> type[CmsGenerator]:
    """Return the generator of the web editor."""
    return CmsGenerator


def bundle_marker(options: Mapping) -> Path:
    """Return the file that tells the bundle's version: its package.json, or its script."""
    dist = Path(options["bundle_dir"])
    package = dist.parent / "package.json"
    return package if package.is_file() else dist / BUNDLE_MAIN


def check_settings(pelican) -> None:
    """Check the CMS setting once; make the bundle an input of incremental builds.

    Without it, a build made before `npm ci` would be "unchanged" after it, and
    the editor's page would never be written.
    """
    options = get_options(pelican.settings)
    if not options["enabled"]:
        return
    incremental = pelican.settings.setdefault("INCREMENTAL", {})
    inputs = list(incremental.get("global_inputs") or [])
    marker = str(bundle_marker(options))
    if marker not in inputs:
        pelican.settings["INCREMENTAL"] = {
            **incremental,
            "global_inputs": [*inputs, marker],
        }


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.get_generators.connect(get_generators)
