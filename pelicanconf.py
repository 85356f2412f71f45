"""Pelican settings of the "Dân vận khéo" portal (development build: `make html`)."""

import os
from pathlib import Path

from portal import buildpolicy, identity, jinja, text, vocab

ROOT = Path(__file__).resolve().parent
# A plugin that fails to load fails the build; an editor's error under the dev
# server is reported and the server keeps watching (portal/buildpolicy.py).
buildpolicy.install()

AUTHOR = "Ban Dân vận Tỉnh ủy Bình Thuận"
SITENAME = "Dân vận khéo"
# The agency behind the site changes over time (Bình Thuận until 30/6/2025, then
# Lâm Đồng): data/co-quan.yml, read by portal/identity.py. The footer shows the
# agency of the build date (env BUILD_DATE or SOURCE_DATE_EPOCH, else today: an
# input of the build); items show the agency of their own date ({{ date|agency }}).
# The date itself is no setting: only AGENCY (which changes on 01/7/2025) is, so
# an incremental build is full when the footer's agency changes, not every day.
AGENCIES = identity.Agencies(ROOT / "data" / "co-quan.yml")
AGENCY = AGENCIES(identity.build_date())
SITESUBTITLE = f"Mô hình, điển hình “Dân vận khéo” tỉnh {AGENCY['province']}"
SITEURL = ""
RELATIVE_URLS = False

PATH = "content"
TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LANG = "vi"
DEFAULT_DATE_FORMAT = "%d/%m/%Y"
THEME = str(ROOT / "theme")
THEME_STATIC_DIR = "theme"

# Our plugins, always named: otherwise Pelican loads every installed plugin package.
PLUGIN_PATHS = [str(ROOT / "plugins")]
PLUGINS = [
    "frontmatter",
    "readpool",  # parses the sources on every core on a full build
    "sections",
    "taxonomy",
    "sitefiles",
    "redirects",
    "cms",
    "statistics_page",
    "images",
    # Before the plugins that work on the finished output (page list, search index,
    # compressed copies): it removes the pages of deleted items first.
    "incremental",
    "renderpool",  # renders (or replays) the pages on every core
    "visitor_counter",
    "search_index",
    "assets",
    "security",
    "deploy_marker",
]

# The vocabularies (fields, localities, kinds) editors can change.
VOCABULARY_PATH = str(ROOT / "data")
FRONTMATTER = {"drafts": False, "fail_on_error": True}
# The visitor counter: the service URL comes from COUNTER_URL at build time.
COUNTER = {"show_site": True, "show_views": True}
# The web editor at /quan-tri/ (plugins/cms): `make cms` runs the local back-end.
# Its 5 MB bundle is compressed once per version; quality 5 takes seconds (publish: 11).
CMS = {
    "local_backend": f"http://127.0.0.1:{os.environ.get('CMS_PROXY_PORT', '8081')}/api/v1",
    "brotli_quality": 5,
}
SECTIONS = {
    "models": {"per_page": 12},
    "news": {"per_page": 12},
}
# Index pages by field, locality and year (plugins/taxonomy): one entry per index.
TAXONOMIES = {
    "linh-vuc": {
        "attribute": "field",
        "vocabulary": "linh-vuc",
        "title": "Lĩnh vực",
        "url": "linh-vuc/",
        "per_page": 12,
    },
    "dia-ban": {
        "attribute": "locality",
        "vocabulary": "dia-ban",
        "title": "Địa bàn",
        "url": "dia-ban/",
        "per_page": 12,
    },
    "nam": {
        "attribute": "year",
        "title": "Năm",
        "url": "nam/",
        "per_page": 12,
        "order": "newest",
    },
}

# Markdown only: the rST reader warns about "vi" and we have no rST content.
READERS = {"rst": None, "html": None, "htm": None}
MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.sane_lists": {},
        "markdown.extensions.smarty": {},
    },
    "output_format": "html",
}

ARTICLE_PATHS = ["models", "news"]
PAGE_PATHS = ["pages"]
# No original image is published (it may carry GPS EXIF): the images plugin writes
# stripped, resized copies named by content hash.
STATIC_PATHS = []
# Attachments (PDF, Word, Excel) are published as they are from content/files/
# (`make check` refuses other kinds and files over portal.attachments.MAX_BYTES).
STATIC_PATHS += ["files"]
IMAGES = {"widths": (320, 640, 960, 1280), "webp_quality": 78, "jpeg_quality": 80}
USE_FOLDER_AS_CATEGORY = False
DEFAULT_CATEGORY = "Chung"
SLUGIFY_SOURCE = "basename"

ARTICLE_URL = "{section}/{slug}/"
ARTICLE_SAVE_AS = "{section}/{slug}/index.html"
ARTICLE_LANG_SAVE_AS = ""
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
PAGE_LANG_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_LANG_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_PAGE_LANG_SAVE_AS = ""
# One index per concept: Pelican's own category, tag, author and archive pages are off.
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
DIRECT_TEMPLATES = ["index"]
PAGINATED_TEMPLATES = {}
DEFAULT_PAGINATION = 12
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/{number}/", "{base_name}/{number}/index.html"),
)

# Feeds (site-wide, sections, terms) in every build, with absolute links: from SITEURL,
# or the local server's address when it is empty (portal/feeds.py).
FEED_ALL_ATOM = "atom.xml"
FEED_DOMAIN = SITEURL or "http://127.0.0.1:8000"
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None


# Filters are named functions, not lambdas: Pelican's content cache pickles the
# settings (through categories and tags) and a lambda cannot be pickled.
def asset(path: str) -> str:
    """Link a theme file: {{ SITEURL }}/{{ "css/site.css"|asset }}."""
    return f"{THEME_STATIC_DIR}/{path}"


def vi_sorted(items, attribute: str = "name") -> list:
    """Sort items by an attribute in Vietnamese alphabetical order."""
    return sorted(items, key=lambda item: text.sort_key(str(getattr(item, attribute))))


# Pelican's Jinja options, without checking every template's file time on each
# {% include %} (a build makes its environment afresh: nothing changes under it).
JINJA_ENVIRONMENT = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "extensions": [],
    "auto_reload": False,
}
# A partial rendered for one item ({{ partial("partials/card.html", item, ...) }}): an
# include; plugins/incremental renders it once per item and arguments.
JINJA_GLOBALS = {"partial": jinja.partial}
JINJA_FILTERS = {
    # Theme files are linked as {{ SITEURL }}/{{ "css/site.css"|asset }};
    # plugins/assets replaces this with content-hashed names (theme/css/site.<hash>.css).
    "asset": asset,
    "vi_date": text.format_date,
    "vi_weekday_date": text.format_weekday_date,
    "json_ld": jinja.json_ld,
    "vi_sorted": vi_sorted,
    # Localities over time (portal/vocab.py) and the agency of a date (data/co-quan.yml).
    "vi_short_date": vocab.short_date,
    "vi_next_day": vocab.short_date_after,
    "agency": AGENCIES,
    "nbsp_dash": jinja.nbsp_dash,
    "initials": jinja.initials,
    # A card's title level where a page's outline wants another than h3 (h2 in a section).
    "card_heading": jinja.card_heading,
}

CACHE_PATH = str(ROOT / "cache" / "html")
# Incremental builds (plugins/incremental): reading is cached by content hash,
# pages are rendered only when what they read changed. `make html FULL=1` (or
# `pelican --ignore-cache`) forces a full build.
CACHE_CONTENT = False  # the plugin keeps its own cache, keyed by content hash
LOAD_CONTENT_CACHE = True
# package-lock.json: a new web editor bundle (plugins/cms) means a full build.
INCREMENTAL = {"global_inputs": [VOCABULARY_PATH, str(ROOT / "package-lock.json")]}
