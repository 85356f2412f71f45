"""Gated Markdown patterns: skipped only where they could not match, same HTML."""

import random
import re

import pytest

from portal.frontmatter import parse_file
from portal.markdowngate import (
    BLOCK_NEEDLES,
    BLOCK_PATTERNS,
    HANDLE_INLINE,
    NEEDLES,
    GatedPattern,
)
from portal.sanitize import BodyRenderer
from tests.conftest import ROOT, get_settings

MARKDOWN = get_settings()["MARKDOWN"]
# Every character some pattern looks for, with ordinary ones around them, and
# pieces of what the patterns match.
PIECES = [
    *"ab1 \n\t.-–—'\"`\\[]()!<>&#;*_^:/@?=%s\x02\x03{}",
    *("'\"", "\"'", "--", "...", "  \n", "[^", "![", "&amp;", "&#8212;", "&nbsp;"),
    *("<a>", "</b>", "<b@c.d>", "<http://x.y>", "<!--x-->", "<?x?>", "<![CDATA[x]]>"),
    *("80s", "'s", "\\\\", "``"),
    *(
        ' "a',
        " 'a",
        "\n# ",
        "\n=",
        "\n---",
        "- - -",
        "***",
        ": ",
        "\n> ",
        "]: ",
        "*[",
        "[^1]:",
    ),
]
BODIES = [
    "Chữ *nghiêng*, **đậm**, ***cả hai***, _gạch_ __dưới__ và a_b_c.",
    "Mã `x = 1` và ``a ` b``, thoát \\*sao\\* và \\\\`mã`.",
    '[Liên kết](https://example.org/ "tiêu đề"), [tham chiếu][r], [r] và ![ảnh](/a.jpg).',
    "Ảnh ![tham chiếu][r] và ![r].\n\n[r]: https://example.org/r",
    "Thư <ban@example.org>, trang <https://example.org/a?b=1&c=2>.",
    "Dòng có hai dấu cách  \nrồi xuống dòng.",
    'HTML <span class="x">trong dòng</span>, <!-- chú thích --> và &amp; &#8212; &copy;.',
    "Chú thích[^1] ở đây.\n\n[^1]: Nội dung chú thích.",
    "Gạch -- ngang --- dài, ba chấm... và bốn chấm.... cuối.",
    "\"Ngoặc kép\" và 'ngoặc đơn', \"'lồng'\", '\"lồng\"', năm '80s, it's.",
    "'Mở đầu bằng ngoặc.' \"Cũng vậy,\" ông nói.",
    "*[HTML]: Hyper Text\n\nHTML ở đây.",
    "| Cột | Khác |\n| :-- | --: |\n| a | b |",
    "Tiêu đề {: #id .lop }\n=====\n\n## Mục ##\n\n> Trích *dẫn*\n\n- một\n- hai",
    "Từ\n:   Định nghĩa có **đậm**.",
    "```\nmã 'không' \"đổi\" -- ...\n```",
    "<div markdown=\"1\">*trong* div</div>\n\n<script>alert('x')</script>",
    "Chữ “cong” – không có gì để đổi ở đây, chỉ chữ thường.",
]


def ungated(renderer: BodyRenderer) -> BodyRenderer:
    """Take the gates off a renderer's patterns (the scan Markdown always did)."""
    for processor in renderer.markdown.treeprocessors:
        vars(processor).pop(HANDLE_INLINE, None)
        for pattern in getattr(processor, "inlinePatterns", ()):
            if isinstance(pattern.compiled_re, GatedPattern):
                pattern.compiled_re = pattern.compiled_re.compiled
    for processor in renderer.markdown.parser.blockprocessors:
        for name in BLOCK_PATTERNS:
            gated = getattr(processor, name, None)
            if isinstance(gated, GatedPattern):
                setattr(processor, name, gated.compiled)
    return renderer


def test_every_pattern_of_the_site_is_gated():
    """A pattern a new Markdown words differently shows here (it would be scanned)."""
    renderer = BodyRenderer(MARKDOWN, [])
    patterns = [
        pattern.compiled_re
        for processor in renderer.markdown.treeprocessors
        for pattern in getattr(processor, "inlinePatterns", ())
    ]
    assert len(patterns) > 25
    assert [p.pattern for p in patterns if not isinstance(p, GatedPattern)] == []
    processors = [
        p for p in renderer.markdown.treeprocessors if hasattr(p, "inlinePatterns")
    ]
    assert len(processors) == 2  # Markdown's own and smarty's
    assert all(HANDLE_INLINE in vars(p) for p in processors)  # plain texts skipped
    blocks = {
        type(p).__name__
        for p in renderer.markdown.parser.blockprocessors
        if any(isinstance(getattr(p, n, None), GatedPattern) for n in BLOCK_PATTERNS)
    }
    assert len(blocks) == len(BLOCK_NEEDLES) == 8  # all but the lists' (anchored)


def _patterns(renderer: BodyRenderer) -> dict[str, re.Pattern]:
    """Map each pattern source of a plain renderer to its compiled pattern."""
    markdown = renderer.markdown
    found = [
        pattern.compiled_re
        for processor in markdown.treeprocessors
        for pattern in getattr(processor, "inlinePatterns", ())
    ]
    found += [
        getattr(processor, name)
        for processor in markdown.parser.blockprocessors
        for name in BLOCK_PATTERNS
        if isinstance(getattr(processor, name, None), re.Pattern)
    ]
    return {compiled.pattern: compiled for compiled in found}


PLAIN = _patterns(ungated(BodyRenderer(MARKDOWN, [])))


def _spans(matches) -> list:
    return [(m.span(), m.groups()) for m in matches if m is not None]


@pytest.mark.parametrize("source", sorted({**NEEDLES, **BLOCK_NEEDLES}))
def test_a_gated_pattern_finds_what_the_pattern_finds(source):
    """On random texts, from random positions, gated and plain scans agree."""
    compiled = PLAIN[source]  # with the flags Markdown gave it
    gated = GatedPattern(compiled, {**NEEDLES, **BLOCK_NEEDLES}[source])
    rng = random.Random(source)
    found = 0
    for _ in range(3000):
        text = "".join(rng.choices(PIECES, k=rng.randint(1, 8)))
        pos, endpos = rng.randint(0, 2), rng.choice([len(text), rng.randint(0, 12)])
        plain = _spans([compiled.search(text, pos, endpos)])
        found += bool(plain)
        assert _spans([gated.search(text, pos, endpos)]) == plain, (text, pos)
        assert _spans([gated.match(text, pos, endpos)]) == _spans(
            [compiled.match(text, pos, endpos)]
        ), (text, pos)
        assert _spans(gated.finditer(text, pos, endpos)) == _spans(
            compiled.finditer(text, pos, endpos)
        ), (text, pos)
    assert found, "the random texts never matched: the test would prove nothing"


def test_gated_html_is_the_same():
    """Tricky bodies and the repository's content give the same HTML and warnings."""
    bodies = list(BODIES)
    for path in sorted((ROOT / "content").rglob("*.md")):
        bodies.append(parse_file(path, path.name).body)
    gated, plain = BodyRenderer(MARKDOWN, []), ungated(BodyRenderer(MARKDOWN, []))
    for body in bodies:
        assert gated.render("a.md", body, 5) == plain.render("a.md", body, 5), body


def test_ungated_really_scans():
    """The comparison above compares two different converters."""
    gated, plain = BodyRenderer(MARKDOWN, []), ungated(BodyRenderer(MARKDOWN, []))
    inline = gated.markdown.treeprocessors["inline"].inlinePatterns["link"]
    assert isinstance(inline.compiled_re, GatedPattern)
    inline = plain.markdown.treeprocessors["inline"]
    assert isinstance(inline.inlinePatterns["link"].compiled_re, re.Pattern)
    assert HANDLE_INLINE not in vars(inline)
