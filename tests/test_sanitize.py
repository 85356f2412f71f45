"""The body sanitiser: each dangerous construct goes, with a warning at its line."""

import pytest

from portal.sanitize import BodyRenderer, html_depth, markdown_depth
from tests.conftest import get_settings

MARKDOWN = get_settings()["MARKDOWN"]
FIRST = 7  # the body's first line in its file


def render(body: str, hosts=()):
    """Return a body's HTML and its warnings as 'line: message' strings."""
    html, warnings = BodyRenderer(MARKDOWN, hosts).render(
        "content/news/a.md", body, FIRST
    )
    return html, [f"{w.line}: {w.message}" for w in warnings]


DANGEROUS = {
    "script": ("<script>alert(1)</script>", "alert", "đã bỏ thẻ <script>"),
    "inline script": (
        "Chữ <script>alert(1)</script>.",
        "<script",
        "đã bỏ thẻ <script>",
    ),
    "event handler": (
        '<img src="/images/a.jpg" alt="a" onerror="alert(1)">',
        "onerror",
        "đã bỏ thuộc tính sự kiện onerror= của thẻ <img>",
    ),
    "javascript: link": (
        '<a href="javascript:alert(1)">bấm</a>',
        "javascript:",
        "đã bỏ địa chỉ href= của thẻ <a>",
    ),
    "javascript: in Markdown": (
        "[bấm](javascript:alert(1))",
        "javascript:",
        "đã bỏ địa chỉ href= của thẻ <a>",
    ),
    "data: link": (
        '<a href="data:text/html;base64,PHNjcmlwdD4=">bấm</a>',
        "data:",
        "đã bỏ địa chỉ href= của thẻ <a>",
    ),
    "meta refresh": (
        '<meta http-equiv="refresh" content="0;url=https://example.org/">',
        "refresh",
        "đã bỏ thẻ <meta>",
    ),
    "base": ('<base href="https://example.org/">', "<base", "đã bỏ thẻ <base>"),
    "form": (
        '<form action="https://example.org/"><input name="mk"></form>',
        "<form",
        "đã bỏ thẻ <form>",
    ),
    "style": ("<style>body{display:none}</style>", "display", "đã bỏ thẻ <style>"),
    "style attribute": (
        '<p style="position:fixed">x</p>',
        "position",
        "đã bỏ thuộc tính style= của thẻ <p>",
    ),
    "object": ('<object data="x.swf"></object>', "<object", "đã bỏ thẻ <object>"),
    "embed": ('<embed src="x.swf">', "<embed", "đã bỏ thẻ <embed>"),
    "iframe": (
        '<iframe src="https://www.youtube.com/embed/x"></iframe>',
        "<iframe",
        "đã bỏ thẻ <iframe>",
    ),
    "svg onload": (
        '<svg onload="alert(1)"><circle/></svg>',
        "onload",
        "đã bỏ thẻ <svg>",
    ),
    "javascript: in mixed case": (
        '<a href="JaVaScRiPt:alert(1)">bấm</a>',
        "alert",
        "đã bỏ địa chỉ href= của thẻ <a>",
    ),
    "javascript: as entities": (
        '<a href="&#106;ava&#x09;script&#58;alert(1)">bấm</a>',
        "alert",
        "đã bỏ địa chỉ href= của thẻ <a>",
    ),
    "unquoted event handler": (
        "<img src=x onerror=alert(1)>",
        "onerror",
        "đã bỏ thuộc tính sự kiện onerror= của thẻ <img>",
    ),
    "iframe srcdoc": (
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        "alert",
        "đã bỏ thẻ <iframe>",
    ),
    "link": (
        '<LINK rel="stylesheet" href="https://e.org/a.css">',
        "e.org",
        "đã bỏ thẻ <link>",
    ),
    "meta in capitals": (
        '<META HTTP-EQUIV="Refresh" CONTENT="0;url=https://e.org/">',
        "e.org",
        "đã bỏ thẻ <meta>",
    ),
    "math": (
        "<math><mtext><img src=x onerror=alert(1)></mtext></math>",
        "alert",
        "đã bỏ thẻ <math>",
    ),
    "video from elsewhere": (
        '<video src="https://example.org/a.mp4" controls></video>',
        "example.org",
        "đã bỏ địa chỉ src= của thẻ <video>",
    ),
}


@pytest.mark.parametrize(
    ("html", "gone", "warning"), list(DANGEROUS.values()), ids=list(DANGEROUS)
)
def test_a_dangerous_construct_is_removed_with_a_warning_at_its_line(
    html, gone, warning
):
    out, warnings = render(f"Đoạn đầu.\n\n{html}\n\nĐoạn cuối.\n")
    assert gone not in out
    assert "Đoạn đầu." in out and "Đoạn cuối." in out
    assert any(w.startswith(f"{FIRST + 2}: {warning}") for w in warnings), warnings


ALLOWED = """\
| Năm | Số mô hình |
|:----|-----------:|
| 2020 | 12 |

<figure><img src="/images/cho.jpg" alt="Chợ"><figcaption>Chợ Ma Lâm</figcaption></figure>

<table><caption>Kết quả</caption><thead><tr><th>Xã</th></tr></thead><tbody><tr><td>Ma Lâm</td></tr></tbody></table>

H<sub>2</sub>O và m<sup>2</sup>; <a href="https://example.org/">nguồn</a>, <a href="/mo-hinh/">mô hình</a>.

1. một
2. hai

<video src="/files/phong-su.mp4" controls=""></video>

<details open=""><summary>Xem thêm</summary><p lang="en" id="tom-tat" class="ghi-chu">Summary</p></details>
"""


def test_allowed_table_figure_and_media_survive_unchanged():
    plain = BodyRenderer(MARKDOWN, ())
    plain.extension.sanitizer.clean = lambda html: html  # no sanitiser at all
    expected = plain.render("a.md", ALLOWED, FIRST)[0]
    out, warnings = render(ALLOWED)
    assert warnings == []
    assert out == expected
    assert "<figure><img" in out and '<th style="text-align: left;">Năm</th>' in out


def test_markdown_footnotes_keep_their_ids_and_classes_without_a_warning():
    out, warnings = render("Theo báo cáo[^1].\n\n[^1]: Báo cáo tổng kết năm 2020.\n")
    assert warnings == []
    assert '<sup id="fnref:1"><a class="footnote-ref" href="#fn:1">' in out
    assert '<li id="fn:1">' in out


def test_an_iframe_from_an_allowed_host_is_kept_and_others_go():
    body = (
        '<iframe src="https://www.youtube-nocookie.com/embed/x"></iframe>\n\n'
        '<iframe src="https://example.org/x"></iframe>\n'
    )
    out, warnings = render(body, hosts=["www.youtube-nocookie.com"])
    assert 'src="https://www.youtube-nocookie.com/embed/x"' in out
    assert "example.org" not in out
    assert warnings == [f"{FIRST + 2}: đã bỏ địa chỉ src= của thẻ <iframe>"]


NESTING = {
    "flat": ("<div>x</div>\n" * 500, None),
    "deep": ("Chữ.\n\n" + "<div>" * 101 + "x" + "</div>" * 101, 2),
    "deep inline": ("<b>" * 50 + "\n" + "<i>" * 51 + "x", 1),
    "unclosed optional tags": ("<p>x" * 500 + "<ul>" + "<li>y" * 500 + "</ul>", None),
    "void tags": ("<br><img src=x><hr/>" * 500, None),
    "at the limit": ("<div>" * 100 + "</div>" * 100, None),
}


@pytest.mark.parametrize(("body", "line"), list(NESTING.values()), ids=list(NESTING))
def test_html_nesting_is_measured_in_one_pass(body, line):
    assert html_depth(body, 100) == line


DEEP_MARKDOWN = {
    "lists": ("Chữ.\n\n" + "".join("    " * i + "- x\n" for i in range(500)), 23),
    "quotes": ("Chữ.\n\n" + "".join("> " * i + "x\n\n" for i in range(1, 400)), 42),
    "tabs": ("Chữ.\n\n" + "\t" * 21 + "x\n", 2),
    "a code block in a list": ("- a\n\n" + " " * 12 + "mã\n", None),
    "twenty levels": ("> " * 20 + "x\n" + " " * 80 + "- y\n", None),
}


@pytest.mark.parametrize(
    ("body", "line"), list(DEEP_MARKDOWN.values()), ids=list(DEEP_MARKDOWN)
)
def test_markdown_nesting_is_measured_before_markdown_runs(body, line):
    assert markdown_depth(body, 20) == line


def test_markdown_too_deep_for_its_parser_is_an_error_not_a_crash():
    body = "Chữ.\n\n" + "".join("    " * i + "- x\n" for i in range(500))
    html, problems = BodyRenderer(MARKDOWN, ()).render("content/news/a.md", body, FIRST)
    [problem] = problems
    assert problem.is_error and html == ""
    assert problem.line == FIRST + 2 + 499


@pytest.mark.parametrize("hosts", [(), ("www.youtube.com",)])
def test_the_cleaner_built_once_cleans_as_nh3_clean_with_the_same_options(hosts):
    import nh3

    from portal.sanitize import Sanitizer

    sanitizer = Sanitizer(hosts)
    fragments = [
        '<p onclick="x()">a<script>b</script><a href="javascript:c">d</a></p>',
        '<iframe src="https://www.youtube.com/embed/x"></iframe><style>p{}</style>',
        '<video src="https://x.example/v.mp4" poster="/a.jpg"></video>',
        '<td style="text-align: left;">1</td><th style="color: red">2</th>',
        '<a href="/tin-tuc/" rel="x" target="_blank">e</a><!-- c --><form></form>',
    ]
    for html in fragments:
        assert sanitizer.clean(html) == nh3.clean(html, **sanitizer.options)
