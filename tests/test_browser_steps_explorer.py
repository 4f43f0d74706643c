"""The steps explorer in Debian's Chromium, against a real `manage.py serve` with a worker running the
built-in model: compare steps from the create form to a labelled grid and its PNG, a cell opened as an
ordinary image, and the replay scrubber with the phase of each step."""

import io
import os

import pytest
from PIL import Image as PILImage

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = os.environ.get("STEPWISE_SCREENSHOTS")  # a folder: keep the screenshots for a look


def _shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_compare_steps_from_the_form_to_the_grid_its_png_and_the_replay(browser, live_server_process, theme,
                                                                         tmp_path):
    from playwright.sync_api import expect

    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "alice", errors=errors, theme=theme)
    try:
        # 1. The create form: the comparison panel, 2 and 4 steps
        page.goto("/create/text-to-image/")
        page.fill("#positivePrompt", "a red circle on a blue background")
        page.fill("#width", "128")
        page.fill("#height", "128")
        page.fill("#seed", "7")
        page.locator("#compare-panel summary").click()
        page.fill("#compareSteps", "2, 4")
        page.get_by_test_id("compare-submit").click()
        page.wait_for_url("**/compare/*/")
        # 2. The grid fills in as the worker finishes each cell (the page reloads while it waits)
        expect(page.get_by_test_id("compare-progress")).to_have_text("all 2 done", timeout=180_000)
        cells = page.get_by_test_id("compare-cell")
        expect(cells).to_have_count(2)
        expect(cells.nth(0).get_by_test_id("compare-steps-run")).to_have_text("2 steps ran")
        expect(cells.nth(1).get_by_test_id("compare-difference")).to_have_text("reference")
        expect(cells.nth(0).get_by_test_id("compare-difference")).to_contain_text("% from 4")
        expect(page.get_by_test_id("compare-seed")).to_have_text("7")
        _shot(page, f"compare-grid-{theme}")
        # 3. One labelled PNG
        with page.expect_download() as download:
            page.get_by_test_id("compare-download").click()
        grid = PILImage.open(io.BytesIO(download.value.path().read_bytes()))
        assert grid.format == "PNG" and grid.width > 2 * 256
        # 4. A cell opens as an ordinary image, with the replay of its steps
        cells.nth(1).locator("a").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/images/*/")
        replay = page.get_by_test_id("replay-range")
        expect(page.get_by_test_id("replay-step")).to_have_text("Step 4 of 4")
        expect(page.get_by_test_id("replay-phase")).to_have_text("Polish")
        replay.focus()
        page.keyboard.press("Home")
        expect(page.get_by_test_id("replay-step")).to_have_text("Step 1 of 4")
        expect(page.get_by_test_id("replay-phase")).to_have_text("Composition")
        page.keyboard.press("ArrowRight")
        expect(page.get_by_test_id("replay-step")).to_have_text("Step 2 of 4")
        expect(page.get_by_test_id("replay-phase")).to_have_text("Forms")
        src = page.get_by_test_id("replay-image").get_attribute("src")
        assert src.endswith("/steps/0/2.webp")
        assert page.request.get(src).headers["content-type"] == "image/webp"
        _shot(page, f"replay-{theme}")
        assert not errors, errors
    finally:
        page.context.close()
