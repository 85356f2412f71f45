"""Files the build makes for the web server (CSP, redirect map): never in the webroot.

They are written into a folder beside the site's output folder (default
``<OUTPUT_PATH>-server``, or the ``SERVER_FILES_PATH`` setting) and installed into
nginx's own configuration by a validating step, never included from the webroot.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from portal import outputs
from portal.files import write_atomic

__all__ = ["server_dir", "write_server_file"]


def server_dir(settings: Mapping) -> Path:
    """Return the folder for the server's files of a build with these settings."""
    configured = settings.get("SERVER_FILES_PATH")
    if configured:
        return Path(configured)
    output = Path(settings["OUTPUT_PATH"]).resolve()
    return output.with_name(output.name + "-server")


def write_server_file(settings: Mapping, name: str, text: str) -> Path:
    """Write one server file (UTF-8) atomically, declared as this build's; return it."""
    path = server_dir(settings) / name
    write_atomic(path, text.encode("utf-8"))
    outputs.declare(path)
    return path
