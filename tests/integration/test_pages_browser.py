"""Both pages in a real browser against a real devnet: Playwright driving Debian's chromium.

The admin logs in to the console, sees the nodes, creates a placement policy, edits it,
uses it for a bucket through S3 and sees the bucket's compliance; an operator sees a node's
stored bytes equal to ``du`` of its piece directory; a corrupted piece fails its audit and
the warning appears on the open dashboard without a reload; the multi-node view shows three
nodes with totals. Every step saves a screenshot into ``GEOSHARD_SCREENSHOTS`` (default: a
temporary directory, printed), the test artifacts; ``docs/screenshots/`` holds a copy.

The browser is Debian's ``chromium`` (``scripts/install-test-tools.sh`` installs it), never
one Playwright downloads; without it these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.devnet_fixture import Devnet, free_port, start_devnet

pytestmark = [pytest.mark.xdist_group("pages-devnet"), pytest.mark.timeout(600)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
POLICY = "pages-eu"
BUCKET = "pages-photos"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    # A busy two-core machine can take two minutes and more to bring six nodes up.
    # Scrubbing once an hour: the pieces the audit test corrupts are left for the audits to find
    # (a node's scrub would find them first, delete them and report them lost).
    d = start_devnet(tmp_path_factory.mktemp("pages-devnet"), nodes=6, timeout=300, extra=("--scrub-period", "3600"))
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("GEOSHARD_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {out}")
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: run scripts/install-test-tools.sh"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, f"the page threw: {errors}"


def dashboards(net: Devnet) -> list[dict[str, str]]:
    return list(json.loads((net.data / "dashboards.json").read_text()))


def du_pieces(data_dir: Path) -> int:
    """``du`` of the piece directory, counting the piece files (what the dashboard calls stored)."""
    out = subprocess.run(["du", "-ab", str(data_dir / "blobs")], check=True, capture_output=True, text=True).stdout
    return sum(int(line.split("\t")[0]) for line in out.splitlines() if line.endswith(".gsp"))


def piece_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "blobs").glob("*/*.gsp"))


def corrupt(piece: Path) -> None:
    """Overwrite every piece byte after the header: what a failing disk does, size unchanged."""
    with open(piece, "r+b") as f:
        head = f.read(14)
        (header_len,) = struct.unpack(">I", head[10:14])
        size = os.path.getsize(piece)
        f.seek(header_len)
        f.write(os.urandom(size - header_len))
        f.flush()
        os.fsync(f.fileno())


def login(page: Any, net: Devnet) -> None:
    page.goto(net.env["GEOSHARD_ADMIN_URL"] + "/")
    page.wait_for_selector("#login-form")
    page.fill("#token", "not-the-token")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('wrong admin token')")
    page.fill("#token", net.env["GEOSHARD_ADMIN_TOKEN"])
    page.click("#login-button")
    page.wait_for_selector("#ov-nodes")


def test_admin_logs_in_and_sees_the_nodes_by_country(net: Devnet, page: Any, shots: Path) -> None:
    login(page, net)
    page.wait_for_function("document.querySelector('#ov-nodes').textContent.trim() === '6 / 6'")
    bars = page.locator("#chart-countries rect.bar")
    assert sorted(bars.evaluate_all("bs => bs.map(b => b.dataset.label)")) == ["CA", "DE", "FR", "NL", "US"]
    # The devnet runs accounting: its panels are there from the start (a table once a period closed).
    page.wait_for_selector("div#acc-periods")
    assert page.locator("#acc-periods.empty").count() == 0
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)
    page.click("a[href='#nodes']")
    page.wait_for_selector("#nodes-table")
    assert page.locator("tr.node-row").count() == 6
    page.screenshot(path=str(shots / "console-nodes.png"), full_page=True)


def test_admin_creates_a_policy_uses_it_for_a_bucket_and_sees_its_compliance(
    net: Devnet, page: Any, shots: Path
) -> None:
    login(page, net)
    page.click("a[href='#policies']")
    page.wait_for_selector("#policy-form")
    page.fill("#pf-name", POLICY)
    # Success = total = 4 (the devnet's four EU nodes): healthy stays above the repair threshold,
    # so no repair reads (and drops) the piece the audit test corrupts before an audit fails on it.
    page.fill("#pf-scheme", "2/3/4/4")
    page.fill("#pf-regions", "na")
    page.fill("#pf-min", "2")
    page.click("#pf-submit")
    row = page.locator(f"tr.policy-row[data-policy='{POLICY}']")
    row.wait_for()
    assert "na" in row.inner_text()
    # Edit it: the EU instead of North America.
    row.locator("button.edit").click()
    page.fill("#pf-regions", "eu")
    page.click("#pf-submit")
    page.wait_for_function(f"document.querySelector(\"tr.policy-row[data-policy='{POLICY}']\")"
                           ".children[2].textContent === 'eu'")
    page.screenshot(path=str(shots / "console-policies.png"), full_page=True)

    s3 = net.boto3()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": POLICY})
    s3.put_object(Bucket=BUCKET, Key="holiday.jpg", Body=os.urandom(300_000))
    page.click("a[href='#buckets']")
    brow = page.locator(f"tr.bucket-row[data-bucket='{BUCKET}']")
    brow.wait_for()
    assert brow.locator("select.bucket-policy").input_value() == POLICY
    brow.locator("button.show-report").click()
    page.wait_for_selector("#report-verdict")
    assert "compliant" in page.inner_text("#report-verdict") and "NOT" not in page.inner_text("#report-verdict")
    assert page.inner_text("#report-outside") == "0"
    countries = page.locator("#report-countries rect.bar").evaluate_all("bs => bs.map(b => b.dataset.label)")
    assert countries and set(countries) <= {"DE", "FR", "NL"}, countries
    charted = sum(int(v) for v in page.locator("#report-countries rect.bar").evaluate_all(
        "bs => bs.map(b => b.dataset.value)"))
    assert charted == 4 and f"{charted} piece(s)" in page.inner_text("#report-verdict")
    page.screenshot(path=str(shots / "console-compliance.png"), full_page=True)

    # The policy is in use now: it cannot be deleted; an unused one can, after confirmation.
    page.click("a[href='#policies']")
    assert page.locator(f"tr.policy-row[data-policy='{POLICY}'] button.delete").is_disabled()
    page.fill("#pf-name", "pages-scratch")
    page.fill("#pf-scheme", "1/1/1/1")
    page.click("#pf-submit")
    scratch = page.locator("tr.policy-row[data-policy='pages-scratch']")
    scratch.wait_for()
    scratch.locator("button.delete").click()
    page.click("#confirm-cancel")
    assert scratch.count() == 1
    scratch.locator("button.delete").click()
    page.click("#confirm-ok")
    scratch.wait_for(state="detached")
    page.click("a[href='#log']")
    page.wait_for_selector("#audit-log")
    routes = page.locator("tr.log-entry").evaluate_all("rs => rs.map(r => r.dataset.route)")
    assert routes[0] == "DELETE /v1/policies/{name}" and "PUT /v1/policies/{name}" in routes
    page.screenshot(path=str(shots / "console-audit-log.png"), full_page=True)


def _holder(net: Devnet) -> dict[str, str]:
    for d in dashboards(net):
        if piece_files(Path(d["data"])):
            return d
    raise AssertionError("no node holds a piece; the policy test stores one")


def test_node_dashboard_stored_bytes_equal_du_of_the_piece_directory(net: Devnet, page: Any, shots: Path) -> None:
    d = _holder(net)
    expected = du_pieces(Path(d["data"]))
    assert expected > 0
    page.goto(d["url"] + "/")
    page.wait_for_function(f"document.querySelector('#stored-bytes').dataset.bytes === '{expected}'", timeout=30_000)
    assert du_pieces(Path(d["data"])) == expected
    page.wait_for_selector("#chart-space svg", timeout=30_000)  # two samples, five seconds apart on devnet
    page.wait_for_selector("#chart-scores path[data-series='audit']", state="attached")
    assert page.locator("#chart-scores line.threshold").count() >= 1
    page.screenshot(path=str(shots / "node-dashboard.png"), full_page=True)


def test_a_corrupted_piece_fails_its_audit_and_the_warning_appears_without_a_reload(
    net: Devnet, page: Any, shots: Path
) -> None:
    d = _holder(net)
    page.goto(d["url"] + "/")
    page.wait_for_selector("#no-warnings", timeout=30_000)
    page.evaluate("window.__notReloaded = true")
    for piece in piece_files(Path(d["data"])):
        corrupt(piece)
    warning = page.locator(".warning[data-kind='failed_audits']")
    warning.wait_for(timeout=120_000)
    assert "failure" in warning.inner_text()
    assert page.evaluate("window.__notReloaded") is True
    page.wait_for_selector("#failed-audits")
    page.screenshot(path=str(shots / "node-dashboard-audit-warning.png"), full_page=True)

    login(page, net)
    page.click("a[href='#audits']")
    page.wait_for_selector("tr.audit-failure")
    page.screenshot(path=str(shots / "console-audit-failures.png"), full_page=True)


def test_multinode_view_with_three_nodes(net: Devnet, page: Any, shots: Path) -> None:
    first, *others = dashboards(net)[:3]
    page.goto(first["url"] + "/multinode")
    page.wait_for_selector("#total-nodes")
    page.fill("#add-url", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    page.click("#add-button")
    page.wait_for_selector("#add-error:has-text('cannot read')")
    for i, other in enumerate(others, 1):
        page.fill("#add-name", f"node{i:02d}")
        page.fill("#add-url", other["url"])
        page.fill("#add-token", other["token"])
        page.click("#add-button")
        page.wait_for_function(f"document.querySelectorAll('tr.node-row').length === {i + 1}")
    page.wait_for_function("document.querySelector('#total-nodes').textContent === '3 / 3'")
    expected = [du_pieces(Path(d["data"])) for d in (first, *others)]
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('tr.node-row td[data-bytes]')]"
        ".map(c => Number(c.dataset.bytes))) === JSON.stringify(want)", arg=expected, timeout=20_000)
    assert page.inner_text("#total-stored") and f"{sum(expected)} bytes" in page.locator(
        "#total-stored + .small").inner_text()
    page.screenshot(path=str(shots / "multinode.png"), full_page=True)
