"""Every private Pelican name our plugins use is still there (plugins/incremental/pelican_private.py)."""

from __future__ import annotations

import pytest
from incremental.pelican_private import PRIVATE, resolve
from pelican import __version__ as pelican_version


@pytest.mark.parametrize("name", sorted(PRIVATE))
def test_private_pelican_name_still_exists(name: str) -> None:
    try:
        resolve(name)
    except (AttributeError, ImportError, TypeError) as error:
        pytest.fail(
            f"Pelican {pelican_version} no longer has {name} ({error}). We use it "
            f"because: {PRIVATE[name]}. Find its replacement, update "
            "plugins/incremental/pelican_private.py and the code that uses it; "
            "until then the incremental plugin builds everything in full."
        )


def test_a_missing_name_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from incremental import pelican_private

    monkeypatch.setitem(
        pelican_private.PRIVATE, "pelican.writers:Writer._gone_in_5", "a test"
    )
    assert pelican_private.missing() == ["pelican.writers:Writer._gone_in_5"]
