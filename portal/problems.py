"""Problems found in editors' files, worded in Vietnamese for the people who fix them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: where, which field, what, and how to fix it."""

    path: str
    field: str
    message: str
    fix: str = ""
    line: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        """Render as `path:line: field: what is wrong; fix`."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = (
            f"{where}: {self.field}: {self.message}"
            if self.field
            else (f"{where}: {self.message}")
        )
        return f"{text}; {self.fix}" if self.fix else text

    @property
    def order(self) -> tuple:
        """Key ordering problems by file, then line, then field."""
        return (self.path, self.line or 0, self.field)

    @property
    def is_error(self) -> bool:
        """Tell whether this problem stops the build (a warning does not)."""
        return self.severity == "error"

    def github_annotation(self) -> str:
        """Render as a GitHub Actions annotation on the file and line."""
        level = "error" if self.is_error else "warning"
        line = f",line={self.line}" if self.line else ""
        body = str(self).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{level} file={self.path}{line}::{body}"


class ContentError(SystemExit):
    """The content has errors: the build stops without a traceback, exit code 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)  # printed on stderr; the exit status is 1
