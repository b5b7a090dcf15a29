"""``leaderboard.html``: its numbers are the markdown's, it is checked by ``--check``, and
it works in a real headless browser (Debian's Chromium driven through chromedriver's
W3C WebDriver HTTP API, no Python dependency): no console errors, sorting a column
reorders the rows, and a screenshot is produced. ``.ci/run`` installs Chromium when missing.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from test_leaderboard import fixture_store

from rexbench.benchmark.cli import main
from rexbench.benchmark.html import inline, markdown_html, split_row

CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--window-size=1400,1600"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    store = fixture_store(root)
    assert main(["leaderboard", "--results", str(store), "--out", str(root / "leaderboard.md")]) == 0
    return root / "leaderboard.html"


def test_inline_markup_and_escapes() -> None:
    assert inline("**a** *b* `c<d>` x\\|y") == "<strong>a</strong> <em>b</em> <code>c&lt;d&gt;</code> x|y"
    assert inline("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert split_row("| a | b\\|c | d |") == ["a", "b\\|c", "d"]
    table = markdown_html(["| m | v |", "|---|--:|", "| *x* | 1 |", "", "- one", "- two"])
    assert "<th>m</th>" in table and "<td><em>x</em></td><td>1</td>" in table and "<li>two</li>" in table


def test_page_has_the_markdown_numbers_and_per_seed_values(page: Path) -> None:
    text = page.read_text()
    md = (page.parent / "leaderboard.md").read_text()
    # every table cell of the markdown is on the page, escaped as the converter escapes it
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            for cell in split_row(line):
                assert inline(cell) in text, cell
    # per-seed tooltips: alpha's headline is 50, 60, 70 of 251 on seeds 0, 1, 2
    assert 'title="seed 0: 0.199\nseed 1: 0.239\nseed 2: 0.279"' in text
    # self-contained: no external resource; links to every result file (8 files)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", text)
    links = re.findall(r'href="([^"]+\.json)"', text)
    assert len(links) == 8 and all((page.parent / html_lib.unescape(h)).is_file() for h in links)
    assert "Suite version 2" in text and "harness version" in text


def test_check_covers_the_page(page: Path) -> None:
    root = page.parent
    args = ["leaderboard", "--results", str(root / "results"), "--out", str(root / "leaderboard.md"), "--check"]
    assert main(args) == 0
    original = page.read_text()
    page.write_text(original.replace("0.199", "0.200", 1))
    try:
        assert main(args) == 1
    finally:
        page.write_text(original)
    assert main(args) == 0


# --------------------------------------------------------------------------- the browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver calls the test needs, over plain HTTP."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = ""

    def call(self, method: str, path: str, body: dict | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["value"]

    def start(self, chromium: str) -> None:
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"binary": chromium, "args": CHROME_ARGS}}
        self.session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def s(self, method: str, path: str, body: dict | None = None) -> object:
        return self.call(method, f"/session/{self.session}{path}", body)

    def js(self, script: str) -> object:
        return self.s("POST", "/execute/sync", {"script": script, "args": []})


@pytest.fixture(scope="module")
def browser():
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver_bin, "the browser test needs Debian's chromium and chromium-driver (.ci/run installs them)"
    port = _free_port()
    proc = subprocess.Popen([driver_bin, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = WebDriver(port)
    try:
        for _ in range(100):
            try:
                if driver.call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        driver.start(chromium)
        yield driver
    finally:
        if driver.session:
            try:
                driver.call("DELETE", f"/session/{driver.session}")
            except OSError:
                pass
        proc.terminate()
        proc.wait(timeout=30)


FIRST_COLUMN = """
var t = document.querySelectorAll('table.task')[0];
return Array.prototype.map.call(t.tBodies[0].rows, function(r){
  return [r.cells[0].textContent, r.cells[COL].getAttribute('data-sort')]; });
"""


def test_page_in_a_headless_browser(page: Path, browser: WebDriver, tmp_path: Path) -> None:
    browser.s("POST", "/url", {"url": page.resolve().as_uri()})
    assert browser.js("return document.body.getAttribute('data-ready')") == "1"  # the script ran to its end
    assert browser.js("return document.title").startswith("rexbench leaderboard")
    severe = [e for e in browser.s("POST", "/se/log", {"type": "browser"}) if e["level"] == "SEVERE"]
    assert severe == [], severe

    heads = browser.js("return Array.prototype.map.call(document.querySelectorAll('table.task')[0]"
                       ".tHead.rows[0].cells, function(c){ return c.textContent; })")
    col = heads.index("headline")
    before = browser.js(FIRST_COLUMN.replace("COL", str(col)))
    browser.js(f"document.querySelectorAll('table.task')[0].tHead.rows[0].cells[{col}].click(); return 0")
    after = browser.js(FIRST_COLUMN.replace("COL", str(col)))
    assert [m for m, _ in after] != [m for m, _ in before]  # the rows moved
    assert sorted(before) == sorted(after)  # the same rows
    values = [float(v) for _, v in after if v is not None]
    assert values == sorted(values, reverse=True) and values[0] == 1.0  # beta (headline 1) first
    assert [v for _, v in after][-1] is None  # the chance row (no number to sort by) last
    browser.js(f"document.querySelectorAll('table.task')[0].tHead.rows[0].cells[{col}].click(); return 0")
    again = [float(v) for _, v in browser.js(FIRST_COLUMN.replace("COL", str(col))) if v is not None]
    assert again == sorted(again)  # a second click reverses

    png = base64.b64decode(browser.s("GET", "/screenshot"))
    shot = Path(os.environ.get("REXBENCH_SCREENSHOT_DIR", tmp_path)) / "leaderboard.png"  # to look at it
    shot.write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
