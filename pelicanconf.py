"""Pelican settings of the "Dân vận khéo" portal (development build: `make html`)."""

from pathlib import Path

from portal import text

ROOT = Path(__file__).resolve().parent

AUTHOR = "Ban Dân vận Tỉnh ủy Bình Thuận"
SITENAME = "Dân vận khéo"
SITESUBTITLE = "Mô hình, điển hình “Dân vận khéo” tỉnh Bình Thuận"
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
PLUGINS = ["frontmatter", "sections", "incremental"]

# The vocabularies (fields, localities, kinds) editors can change.
VOCABULARY_PATH = str(ROOT / "data")
FRONTMATTER = {"drafts": False, "fail_on_error": True}
SECTIONS = {
    "models": {"per_page": 12},
    "news": {"per_page": 12},
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
STATIC_PATHS = ["images"]
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

FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None

JINJA_FILTERS = {
    # Theme files are linked as {{ SITEURL }}/{{ "css/site.css"|asset }}.
    "asset": lambda path: f"{THEME_STATIC_DIR}/{path}",
    "vi_date": text.format_date,
    "vi_weekday_date": text.format_weekday_date,
    "vi_sorted": lambda items, attribute="name": sorted(
        items, key=lambda item: text.sort_key(str(getattr(item, attribute)))
    ),
}

CACHE_PATH = str(ROOT / "cache" / "html")
# Incremental builds (plugins/incremental): reading is cached by content hash,
# pages are rendered only when what they read changed. `make html FULL=1` (or
# `pelican --ignore-cache`) forces a full build.
CACHE_CONTENT = False  # the plugin keeps its own cache, keyed by content hash
LOAD_CONTENT_CACHE = True
INCREMENTAL = {"global_inputs": [VOCABULARY_PATH]}
