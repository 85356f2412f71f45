"""Importing the legacy portal's articles: `python -m portal.importer` (docs/CHUYEN-DU-LIEU.md).

Sources are RSS/Atom feeds, saved or fetched HTML pages read with a site profile
(profile.py), and plain-text dumps (sources.py). Each article is cleaned and
converted (convert.py), given field and locality suggestions (suggest.py) and
written as a draft into import/; `accept` checks a reviewed file, moves it into
content/ and adds its redirect to data/redirects.yml (core.py, state.py).
"""
