"""The HTML report in a real browser (headless Chromium driven by Playwright).

Chromium comes from the system (Debian's `chromium` package, installed by .ci/run); without it
these tests skip, unless ``WASMEXPORT_REQUIRE_BROWSER=1`` (set by CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.results import read
from reports import html as report

CHROMIUM = os.environ.get("WASMEXPORT_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")


def rec(case: str, engine: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return {"type": "result", "case": case, "engine": engine, "engine_version": "1.0",
            "toolchain": extra.pop("toolchain", "go1.27.3"), "area": case.split("/", maxsplit=1)[0],
            "title": f"title of {case}", "verdict": verdict, "reason": extra.pop("reason", ""),
            "problems": extra.pop("problems", []), "rerun": f"rerun {case} {engine}", **extra}


RECORDS = [
    rec("types/add", "wasmtime", "pass"),
    rec("types/add", "wazero", "fail", problems=[{"where": "step 1 (call add) results",
                                                    "expected": "(i32:5)", "observed": "(i32:6)"}]),
    rec("types/add", "agreement", "disagree", reason="wasmtime | wazero differ at step 1 results",
        disagreement={"field": "step 1 (call add) results", "groups": [["wasmtime"], ["wazero"]],
                      "values": ["(i32:5)", "(i32:6)"]}),
    rec("types/bool", "wasmtime", "xfail", reason="<script>alert(1)</script> not normalised",
        release_entry={"go": ">=1.24", "finding": "not normalised", "link": "https://go.dev/x"}),
    rec("types/bool", "wazero", "pass"),
    rec("lifecycle/sleep", "wasmtime", "pass", toolchain="go1.24.3"),
    rec("lifecycle/sleep", "wazero", "skip", toolchain="go1.24.3", reason="lacks capability"),
]


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    results = tmp_path / "r.jsonl"
    lines = [{"type": "header", "suite_commit": "abc123"}, *RECORDS, {"type": "footer"}]
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "report.html"
    assert report.main([str(results), "-o", str(out)]) == 0
    return out


@pytest.fixture
def page(page_file: Path) -> Iterator[Any]:
    if not CHROMIUM:
        if os.environ.get("WASMEXPORT_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here: apt-get install chromium")
        pytest.skip("no Chromium: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        pg = browser.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
        pg.goto(page_file.as_uri())
        yield pg
        assert errors == [], "the page must run without errors and never execute record text"
        browser.close()


def test_the_matrix_counts_every_engine_and_toolchain(page):
    cell = page.locator("#matrix td[data-engine=wazero][data-toolchain='go1.27.3']")
    assert cell.inner_text() == "1 pass 1 fail"
    assert "v-fail" in cell.get_attribute("class")
    agree = page.locator("#matrix td[data-engine=agreement][data-toolchain='go1.27.3']")
    assert agree.inner_text() == "1 disagree"
    heads = page.locator("#matrix thead th").all_inner_texts()
    assert heads == ["engine", "go1.24.3", "go1.27.3"], "toolchains in release order"


def test_a_failing_cell_opens_its_details(page):
    page.locator("#cases td[data-verdict=fail] a").click()
    details = page.locator("details[data-verdict=fail]")
    assert details.evaluate("d => d.open")
    assert "observed: (i32:6)" in details.inner_text()
    assert "rerun types/add wazero" in details.inner_text()


def test_problems_only_and_the_filter_narrow_the_case_table(page):
    visible = lambda: page.locator("#cases tbody tr:not(.hidden) td.case").all_inner_texts()  # noqa: E731
    assert visible() == ["lifecycle/sleep", "types/add", "types/bool"]
    page.locator("#problems").check()
    assert visible() == ["types/add"]
    page.locator("#problems").uncheck()
    page.locator("#filter").fill("bool")
    assert visible() == ["types/bool"]
    assert page.locator("#shown").inner_text() == "1"


def test_findings_show_reason_and_link_as_text(page):
    findings = page.locator("details[data-verdict=xfail]")
    findings.locator("summary").click()
    text = findings.inner_text()
    assert "<script>alert(1)</script> not normalised" in text
    assert findings.locator("a[href='https://go.dev/x']").count() == 1


def test_a_real_results_file_renders(tmp_path):
    """The report reads what the plugin writes (no browser needed)."""
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"type": "header"}) + "\n" + json.dumps(RECORDS[0]) + "\n")
    headers, records, finished = report.merge([read(results)])
    page = report.render(headers, records, finished)
    assert "did not finish" in page and "types/add" in page
