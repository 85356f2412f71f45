"""One failure policy for every build, installed by the settings file.

- A plugin named in PLUGINS that cannot be imported or registered fails the
  build, naming it and the reason (Pelican only logs "Cannot load plugin" and
  goes on, exit status 0).
- An editor's error (portal.problems.ContentError) stops a build with its
  Vietnamese message and exit status 1, without a traceback; under the dev
  server (`pelican --autoreload`) the same error is reported in the terminal and
  the server keeps watching for the fix, instead of its rebuild process dying.
  A failure a plugin explains itself (an exception with `reported = True`, such
  as Pagefind's SearchIndexError) gets the same treatment. A bug raises as usual.

`install()` is called from pelicanconf.py (so devconf.py and publishconf.py have
it too): the settings file is the one place that is read before the plugins are
loaded, so it also catches the incremental plugin failing to load.
"""

from __future__ import annotations

import logging
import sys

from pelican import signals

__all__ = ["BuildFailed", "PluginLoadError", "install"]

PLUGIN_FAILURES = ("Cannot load plugin", "Cannot register plugin")


class PluginLoadError(RuntimeError):
    """A plugin named in PLUGINS did not load: the build stops."""

    exitcode = 1


class BuildFailed(RuntimeError):
    """An editor's error under the dev server: reported, and the server keeps watching."""


class _PluginFailures(logging.Filter):
    """Note Pelican's "Cannot load/register plugin" messages, letting them through.

    A filter, not a handler: with `--log-handler plain` Pelican logs through
    Python's last-resort handler, which a handler of ours would silence.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.ERROR and message.startswith(PLUGIN_FAILURES):
            reason = message.split("\n", 1)
            if record.exc_info and record.exc_info[1] is not None:
                reason.append(repr(record.exc_info[1]))
            self.failures.append(" — ".join(part.strip() for part in reason if part))
        return True


_failures = _PluginFailures()
# Where Pelican logs them: plugins/_utils.py (import) and __init__.py (register).
LOGGERS = ("pelican.plugins._utils", "pelican")


def check_plugins(pelican) -> None:
    """Fail the build when a plugin did not load (sent on `initialized`)."""
    failures, _failures.failures = _failures.failures, []
    if failures:
        raise PluginLoadError(
            "LỖI Không nạp được plugin (kiểm tra PLUGINS trong tệp cấu hình và "
            "phiên bản Pelican): " + "; ".join(failures)
        )
    run = pelican.run

    def run_reporting_errors() -> None:
        try:
            run()
        except SystemExit as error:
            if error.code in (0, None) or not _under_autoreload():
                raise
            raise BuildFailed(str(error.code)) from None
        except Exception as error:
            # A failure a plugin already explained (e.g. Pagefind's, in Vietnamese):
            # its message without a traceback; the dev server reports it as is.
            if getattr(error, "reported", False) and not _under_autoreload():
                raise SystemExit(f"{type(error).__name__}: {error}") from None
            raise

    pelican.run = run_reporting_errors


def _under_autoreload() -> bool:
    """Return whether this run was started by Pelican's dev-server loop."""
    frame = sys._getframe(1)  # noqa: SLF001  (no public way to see the caller)
    while frame is not None:
        if frame.f_code.co_name == "autoreload" and frame.f_globals.get("__name__") in (
            "pelican",
            "pelican.__main__",
        ):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Watch plugin loading and wrap each run (safe to call again)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _failures not in logger.filters:
            logger.addFilter(_failures)
    signals.initialized.connect(check_plugins)
