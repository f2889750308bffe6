"""The report opened in a real browser (headless Chromium through Playwright).

The network is blocked: every request other than the report file itself is
aborted and recorded, and the test fails if there is any. It also fails on a
console error, an image that did not decode, or a missing section heading, and
saves a full-page screenshot (under the test's tmp dir and reports/).

Chromium is Debian's ``chromium`` package (``make test`` installs it when
missing); Playwright drives it with ``executable_path`` and never downloads a
browser.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_fixtures import build_report_run

from dpcsim.report import write_report
from dpcsim.report.context import SECTION_TITLES

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[1] / "reports"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs /usr/bin/chromium: `make test` as root, or apt-get install chromium",
)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    return build_report_run(tmp_path_factory.mktemp("report"))


@dataclass(frozen=True)
class Seen:
    """What a browser saw of a report page."""

    blocked: list[str]
    errors: list[str]
    images: list[list[object]]  # [complete, naturalWidth, alt] per <img>
    headings: list[str]


def inspect_report(sync_api, html_path: Path, shot: Path) -> Seen:
    """Open ``html_path`` offline; record requests, errors, images, h2; screenshot."""
    url = html_path.resolve().as_uri()
    blocked: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])"
        )
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return Seen(blocked=blocked, errors=errors, images=images, headings=headings)


def test_report_loads_offline_with_every_section_and_image(report_run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    html_path, _ = write_report(report_run)
    shot = tmp_path / "report.png"
    seen = inspect_report(sync_api, html_path, shot)

    assert seen.blocked == []
    assert seen.errors == []
    assert len(seen.images) >= 8
    undecoded = [
        alt for complete, width, alt in seen.images if not (complete and width > 0)
    ]
    assert undecoded == []
    expected = [f"{k}. {title}" for k, title in enumerate(SECTION_TITLES, start=1)]
    assert seen.headings == expected
    assert shot.stat().st_size > 50_000
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_DIR / "report-screenshot.png")


def _open(sync_api, path):
    """Load ``path`` offline; return (blocked requests, console errors)."""
    url = path.resolve().as_uri()
    blocked: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" else None
        )
        page.goto(url, wait_until="load")
        browser.close()
    return blocked, errors


def test_the_harness_records_a_remote_request(tmp_path):
    """Without the report's CSP, a remote image reaches the route and is recorded."""
    sync_api = pytest.importorskip("playwright.sync_api")
    page = tmp_path / "remote.html"
    page.write_text('<!DOCTYPE html><img src="https://example.invalid/x.png">')
    blocked, _ = _open(sync_api, page)
    assert blocked == ["https://example.invalid/x.png"]


def test_the_reports_csp_refuses_a_remote_image(report_run, tmp_path):
    """An image injected into the report is refused by its own CSP."""
    sync_api = pytest.importorskip("playwright.sync_api")
    html_path, _ = write_report(report_run)
    bad = tmp_path / "bad.html"
    bad.write_text(
        html_path.read_text().replace(
            "<body>", '<body><img src="https://example.invalid/x.png">', 1
        )
    )
    blocked, errors = _open(sync_api, bad)
    assert blocked == []
    assert any("Content Security Policy" in e for e in errors)
