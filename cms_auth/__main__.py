"""Run the OAuth helper: `python -m cms_auth` (settings from the environment)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from cms_auth import Settings, make_server


def main() -> int:
    """Serve until stopped; a missing setting exits with its name."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    server = make_server(settings)
    logging.info("cms_auth: listening on %s:%s", settings.host, settings.port)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
