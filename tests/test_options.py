"""One dict setting per plugin, merged with its defaults."""

import pytest

from portal.options import merge_named_options, merge_options

DEFAULTS = {"enabled": True, "size": 3}


class PluginError(ValueError):
    pass


def test_given_values_override_the_defaults_and_nothing_is_mutated():
    settings = {"PLUGIN": {"size": 5}}
    options = merge_options(settings, "PLUGIN", DEFAULTS, "plugin")
    assert options == {"enabled": True, "size": 5}
    assert settings == {"PLUGIN": {"size": 5}} and DEFAULTS == {
        "enabled": True,
        "size": 3,
    }


def test_a_missing_setting_gives_the_defaults():
    assert merge_options({}, "PLUGIN", DEFAULTS, "plugin") == DEFAULTS


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "plugin: PLUGIN must be a dict, not list"),
        ("yes", "plugin: PLUGIN must be a dict, not str"),
        ({"sise": 1, "colour": 2}, "plugin: unknown PLUGIN keys: colour, sise"),
    ],
)
def test_wrong_settings_are_errors_named_by_the_plugin(given, message):
    with pytest.raises(PluginError) as raised:
        merge_options({"PLUGIN": given}, "PLUGIN", DEFAULTS, "plugin", PluginError)
    assert str(raised.value) == message


NAMED = {"a": {"size": 5}}


@pytest.mark.parametrize(
    ("given", "extend", "expected"),
    [
        (None, True, {"a": {"enabled": True, "size": 5}}),
        (None, False, {"a": {"enabled": True, "size": 5}}),
        ({"b": {}}, True, {"a": {"enabled": True, "size": 5}, "b": DEFAULTS}),
        ({"b": {}}, False, {"b": DEFAULTS}),
        ({"a": {"enabled": False}}, True, {"a": {"enabled": False, "size": 5}}),
        ({"a": {"enabled": False}}, False, {"a": {"enabled": False, "size": 3}}),
    ],
)
def test_named_entries_merge_over_their_defaults_or_replace_them(
    given, extend, expected
):
    settings = {} if given is None else {"PLUGIN": given}
    merged = merge_named_options(
        settings, "PLUGIN", DEFAULTS, NAMED, "plugin", PluginError, extend
    )
    assert merged == expected and NAMED == {"a": {"size": 5}}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "plugin: PLUGIN must be a dict, not list"),
        ({"a": 3}, "plugin: PLUGIN['a'] must be a dict, not int"),
        ({"a": {"sise": 1}}, "plugin: unknown PLUGIN['a'] keys: sise; allowed:"),
    ],
)
def test_wrong_named_entries_are_errors_named_by_the_plugin(given, message):
    with pytest.raises(PluginError) as raised:
        merge_named_options(
            {"PLUGIN": given}, "PLUGIN", DEFAULTS, NAMED, "plugin", PluginError
        )
    assert str(raised.value).startswith(message)
