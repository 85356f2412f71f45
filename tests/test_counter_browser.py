"""The counter end to end: a real build, the real service, Debian's Chromium."""

from pathlib import Path

from tests.browser import artifact, serve_directory
from tests.conftest import Site, model, news
from tests.counter.counter_helpers import launch_server, wait_healthy

# Sums every layout shift of the page, from the first paint (CSP does not apply here).
LAYOUT_SHIFTS = """
window.__shift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__shift += entry.value;
}).observe({type: "layout-shift", buffered: true});
"""


def _open(browser, url: str):
    """Open a page at phone width, collecting uncaught script errors."""
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.add_init_script(LAYOUT_SHIFTS)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    return page


def test_the_footer_fills_when_the_service_runs_and_shows_a_dash_when_down(
    site: Site, browser, tmp_path: Path
):
    site.write("models/mo-hinh-a.md", model())
    site.write("news/tin-a.md", news(models=["mo-hinh-a"]))
    site.output.mkdir()
    with serve_directory(site.output) as base:
        server = launch_server(
            tmp_path,
            f"sqlite:///{tmp_path}/counter.sqlite3",
            site.output / "counter-pages.json",
            tmp_path / "counter.log",
            COUNTER_ALLOWED_ORIGINS=base,
        )
        try:
            wait_healthy(server)
            counter_url = f"http://127.0.0.1:{server.port}"
            result = site.build(env={"COUNTER_URL": counter_url})
            assert result.returncode == 0, result.stderr
            page = _open(browser, f"{base}/tin-tuc/tin-a/")
            site_count = page.locator('[data-counter="site"]')
            views = page.locator('[data-counter="page"]')
            site_count.filter(has_text="1").wait_for(timeout=10_000)
            assert views.inner_text() == "1"
            # Before the screenshot: a full-page screenshot resizes the viewport,
            # which Chromium may count as a layout shift of the page.
            assert page.evaluate("window.__shift") == 0
            page.screenshot(path=artifact("counter-running-375.png"), full_page=True)
            assert page.errors == []
            page.close()
            again = _open(browser, f"{base}/mo-hinh/mo-hinh-a/")
            again.locator('[data-counter="site"]').filter(has_text="2").wait_for()
            assert again.locator('[data-counter="page"]').inner_text() == "1"
            again.close()
        finally:
            server.stop()
        down = _open(browser, f"{base}/tin-tuc/tin-a/")
        down.wait_for_timeout(2500)  # the script gives up after 2 s
        assert down.locator('[data-counter="site"]').inner_text() == "—"
        assert down.locator('[data-counter="page"]').inner_text() == "—"
        assert down.evaluate("window.__shift") == 0
        assert down.errors == []
        down.close()
