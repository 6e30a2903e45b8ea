"""The HTML report in a real browser (headless Chromium driven by Playwright).

Chromium comes from the system (Debian's `chromium` package, installed by .ci/run); without it
these tests skip, unless ``WASMEXPORT_REQUIRE_BROWSER=1`` (set by CI) makes that a failure.
Desktop and phone screenshots are kept in reports/out/screenshots/ as test artifacts.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports import html as report
from tests.report_data import agreement, header, record, step, write

CHROMIUM = os.environ.get("WASMEXPORT_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "reports" / "out" / "screenshots"
LONG = ("Not normalised: the export wrapper loads the result byte with i32.load8_u and nothing "
        "turns a non-zero byte other than 1 into 1, so idbool(2) returns 2 and idbool(-1) returns "
        "255; the promise holds only for bools Go computed. <script>alert(1)</script> END-OF-REASON")
EVIL = '"><img src=x onerror=alert(1)>'
MANIFEST = """title: {title}
refs: [https://go.dev/blog/wasmexport]
notes: Why {case} expects what it does.
program:
  mode: reactor
  files:
    main.go: |
      package main

      //go:wasmexport add
      func add(a, b int32) int32 {{ return a + b }}

      func main() {{}}
script:
  - call: _initialize
  - call: add
    args: [{{i32: 2}}, {{i32: 3}}]
    expect: {{returns: [{{i32: 5}}]}}
"""


def _records() -> list[dict[str, Any]]:
    five = [step("returned (i32:5)", trace=["import host.log(i32:7)"])]
    recs = [
        record("types/add", "wasmtime", steps=five),
        record("types/add", "node", steps=five),
        record("types/add", "wazero", "fail", steps=[step("returned (i32:6)")],
               problems=[{"where": "step 1 (call add) results", "line": 18,
                          "expected": "(i32:5)", "observed": "(i32:6)"}]),
        agreement("types/add", ["node", "wasmtime", "wazero"], "disagree",
                  reason="node, wasmtime | wazero differ at step 1 results",
                  disagreement={"field": "step 1 (call add) results",
                                "groups": [["node", "wasmtime"], ["wazero"]],
                                "values": ["(i32:5)", "(i32:6)"]}),
        record("types/add", "wasmtime", toolchain="go1.24.3", steps=five),
        record("types/add", "wazero", toolchain="go1.24.3", steps=five),
        record("lifecycle/sleep", "wasmtime", steps=[step(stdout="woke\n")]),
        record("lifecycle/sleep", "wazero", steps=[step(stdout="woke\n")]),
        record("lifecycle/sleep", "node", "skip", reason="node lacks capability: fuel"),
        record("goroutines/spawn-then-yield", "wasmtime", steps=[step(stdout="spawned ran\n")]),
        record("boundaries/evil", "wasmtime", title=EVIL, refs=["javascript:alert(1)", "https://ok.example/x"],
               steps=[step(stdout="</pre><script>alert(2)</script>")]),
    ]
    for e in ("node", "wasmtime", "wazero"):
        recs.append(record("types/bool", e, "xfail", steps=[step("returned (i32:2)")], reason=LONG,
                           release_entry={"go": ">=1.24", "finding": "not normalised",
                                          "link": "https://go.dev/x", "line": 18}))
    return recs


def _suite(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    root = tmp_path / "suite"
    for case in {r["case"] for r in records}:
        path = root / "manifests" / f"{case}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MANIFEST.format(title=f"title of {case}", case=case))
    return root


def _report(tmp_path: Path, records: list[dict[str, Any]], name: str = "report.html") -> Path:
    results = write(tmp_path / f"{name}.jsonl", records,
                    header(engines=["node", "wasmtime", "wazero"], toolchains=["go1.24.3", "go1.27.3"]))
    out = tmp_path / name
    assert report.main([str(results), "-o", str(out), "--sources", str(_suite(tmp_path, records))]) == 0
    return out


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    return _report(tmp_path, _records())


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM:
        if os.environ.get("WASMEXPORT_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here: apt-get install chromium")
        pytest.skip("no Chromium: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


def _open(browser: Any, url: str, width: int = 1280, height: int = 900) -> Any:
    pg = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    requests: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(url)
    pg.errors, pg.requests = errors, requests
    return pg


@pytest.fixture
def page(browser: Any, page_file: Path) -> Iterator[Any]:
    pg = _open(browser, page_file.as_uri())
    yield pg
    assert pg.errors == [], "the page must run without errors and never execute record text"
    assert [u for u in pg.requests if not u.startswith("file://")] == [], "no network"


def visible_cases(pg: Any) -> list[str]:
    return pg.locator("#case-table tbody tr.row:not(.hidden)").evaluate_all(
        "rows => rows.map(r => r.dataset.case)")


def test_standing_shows_pass_percentages_per_engine_toolchain_and_area(page):
    row = "#standing-table tbody tr[data-area={}] td[data-engine={}][data-toolchain='go1.27.3']"
    cell = page.locator(row.format("all", "wazero"))
    assert cell.inner_text().split()[:3] == ["33", "%", "1/3"]
    types = page.locator(row.format("types", "wasmtime"))
    assert types.inner_text().split()[:3] == ["50", "%", "1/2"]
    heads = page.locator("#standing-table thead th.col small").all_inner_texts()
    assert heads[0] == "go1.24.3" and heads[-1] == "go1.27.3", "toolchains in release order"


def test_filters_narrow_rows_and_columns(page):
    assert visible_cases(page) == ["boundaries/evil", "goroutines/spawn-then-yield", "lifecycle/sleep",
                                   "types/add", "types/bool"]
    page.select_option("#f-area", "types")
    assert visible_cases(page) == ["types/add", "types/bool"]
    page.select_option("#f-verdict", "problems")
    assert visible_cases(page) == ["types/add"]
    page.select_option("#f-engine", "wasmtime")
    assert visible_cases(page) == [], "wasmtime has no problem in types"
    shown_cols = page.locator("#case-table thead th.col:visible").all_inner_texts()
    assert all("wasmtime" in c or "interop" in c for c in shown_cols)
    page.click("#f-reset")
    page.fill("#f-q", "spawn")
    assert visible_cases(page) == ["goroutines/spawn-then-yield"]
    assert page.locator("#shown").inner_text() == "1"


def test_filter_state_lives_in_the_url(page, page_file, browser):
    page.select_option("#f-area", "types")
    page.select_option("#f-toolchain", "go1.27.3")
    page.fill("#f-q", "bool")
    assert page.evaluate("location.hash") == "#area=types&toolchain=go1.27.3&q=bool"
    again = _open(browser, page_file.as_uri() + "#area=types&verdict=xfail")
    assert again.locator("#f-area").input_value() == "types"
    assert again.locator("#f-verdict").input_value() == "xfail"
    assert visible_cases(again) == ["types/bool"]
    assert again.errors == []


def test_a_case_anchor_opens_its_detail_and_keeps_the_filters(page, page_file, browser):
    page.select_option("#f-area", "types")
    page.locator("#case-table td.cell[data-engine=wazero][data-verdict=fail] a").click()
    assert page.evaluate("location.hash") == "#area=types&case=types/add"
    detail = page.locator("details.case[data-case='types/add']")
    assert detail.evaluate("d => d.open")
    linked = _open(browser, page_file.as_uri() + "#case=lifecycle/sleep")
    assert linked.locator("details.case[data-case='lifecycle/sleep']").evaluate("d => d.open")
    top = "document.getElementById('case=lifecycle/sleep').getBoundingClientRect().top"
    assert linked.evaluate(top) < 200, "scrolled to it"


def test_anchors_are_case_ids_and_survive_a_rerun(tmp_path):
    """Another run, in another order and with another result, keeps every case's anchor."""
    first = _report(tmp_path, _records(), "a.html").read_text()
    rerun = list(reversed(_records()))
    rerun[0] = {**rerun[0], "verdict": "pass"}
    second = _report(tmp_path, rerun, "b.html").read_text()
    ids = lambda text: sorted(re.findall(r'<details class="case" id="([^"]+)"', text))  # noqa: E731
    assert ids(first) == ids(second) == [f"case={c}" for c in (
        "boundaries/evil", "goroutines/spawn-then-yield", "lifecycle/sleep", "types/add", "types/bool")]


def test_the_detail_shows_source_manifest_observations_reasons_and_rerun(page):
    page.goto(page.url.split("#")[0] + "#case=types/bool")
    d = page.locator("details.case[data-case='types/bool']")
    text = d.inner_text()
    assert "Why types/bool expects what it does." in text, "notes"
    assert "END-OF-REASON" in text and "<script>alert(1)</script>" in text, "the whole reason, as text"
    assert d.locator("a[href='https://go.dev/blog/wasmexport']").count() == 1, "refs are links"
    assert "returned (i32:2)" in text, "observations of an xfail"
    assert "python -m pytest 'manifests/types/bool.yaml::node[go1.27.3]'" in d.text_content()
    assert text.count("END-OF-REASON") == 1, "three engines, one finding: read once"
    hit = d.locator(".finding pre.src .hit").first.inner_text()
    assert hit.split(None, 1) == ["18", "expect: {returns: [{i32: 5}]}"], "the manifest line at fault"
    d.locator("summary", has_text="main.go").click()
    assert "//go:wasmexport add" in d.inner_text()
    page.goto(page.url.split("#")[0] + "#case=goroutines/spawn-then-yield")
    passing = page.locator("details.case[data-case='goroutines/spawn-then-yield']").inner_text()
    assert "spawned ran" in passing, "observations of a pass"
    page.goto(page.url.split("#")[0] + "#case=types/add")
    add = page.locator("details.case[data-case='types/add']").inner_text()
    assert "expected: (i32:5)\nobserved: (i32:6)" in add
    assert "Observation 1 seen by wasmtime go1.24.3, wazero go1.24.3, node go1.27.3, wasmtime go1.27.3" in add
    assert "node, wasmtime:\n(i32:5)" in add, "the agreement's split"


def test_record_text_is_never_markup_or_a_script_link(page):
    assert page.locator("script").count() == 1, "only the page's own script"
    assert page.locator("img").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    evil = page.locator("details.case[data-case='boundaries/evil']")
    assert EVIL in evil.locator(":scope > summary").inner_text()
    assert "javascript:alert(1)" in evil.text_content(), "a non-http ref is shown as text"


def test_every_cell_reads_without_colour(page):
    texts = page.locator("#case-table td.cell").all_inner_texts()
    assert texts and all(t.strip() for t in texts)
    assert set("".join(texts)) <= set("✓✗≠!–×+·⚠")


def test_desktop_and_phone_layouts(browser, page_file):
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = _open(browser, page_file.as_uri())
    desk.screenshot(path=str(SHOTS / "desktop.png"), full_page=True)
    desk.goto(page_file.as_uri() + "#case=types/add")
    desk.screenshot(path=str(SHOTS / "desktop-case.png"))
    phone = _open(browser, page_file.as_uri(), width=390, height=844)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    assert phone.locator("meta[name=viewport]").count() == 1
    phone.screenshot(path=str(SHOTS / "phone.png"), full_page=True)
    phone.goto(page_file.as_uri() + "#case=types/bool")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "phone-case.png"))
    assert desk.errors == [] and phone.errors == []


def test_the_report_needs_no_browser_to_be_written(tmp_path):
    out = _report(tmp_path, _records())
    text = out.read_text()
    assert '<meta name="viewport"' in text
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)=', text), "self-contained"


def test_a_baseline_adds_what_changed(tmp_path):
    old = [{**r, "verdict": "pass", "problems": []} if r["engine"] == "wazero" else r for r in _records()]
    base = write(tmp_path / "old.jsonl", old)
    new = write(tmp_path / "new.jsonl", _records(), header(host="later"))
    out = tmp_path / "r.html"
    assert report.main([str(new), "-o", str(out), "--baseline", str(base), "--sources", "none"]) == 0
    text = out.read_text()
    section = text[text.index('<section id="changes">'):text.index("</section>", text.index('id="changes"'))]
    assert "regressed: <strong>yes</strong>" in section
    assert '<summary>newly failing (1)</summary>' in section
    assert 'href="#case=types/add">types/add</a> [wazero, go1.27.3]: pass → fail' in section


def test_configurations_of_one_engine_are_grouped_under_it(tmp_path):
    recs = [record("types/add", "wasmtime", engine_family="wasmtime"),
            record("types/add", "wazero", engine_family="wazero"),
            record("types/add", "wasmtime-winch", "fail", engine_family="wasmtime"),
            record("types/add", "chicory", engine_family="chicory")]
    out = tmp_path / "r.html"
    assert report.main([str(write(tmp_path / "r.jsonl", recs)), "-o", str(out), "--sources", "none"]) == 0
    text = out.read_text()
    start = text.index('<section id="standing">')
    section = text[start:text.index("</section>", start)]
    families = re.findall(r'<th class="family" colspan="(\d+)">([^<]+)</th>', section)
    assert families == [("1", "chicory"), ("2", "wasmtime"), ("1", "wazero")]
    order = re.findall(r'<th class="col" data-engine="([^"]+)"', section)
    assert order == ["chicory", "wasmtime", "wasmtime-winch", "wazero"]
    # without configurations there is no family row
    plain = tmp_path / "p.html"
    data = write(tmp_path / "p.jsonl", recs[:2])
    assert report.main([str(data), "-o", str(plain), "--sources", "none"]) == 0
    assert 'class="family"' not in plain.read_text()
