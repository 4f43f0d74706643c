"""The studio in Debian's Chromium, against a real `manage.py serve` with a worker.

What only a browser shows: the live step counter next to the sliders, the blocked submit, the mask
painted on a canvas and sent at the image's natural size, and a job counted live to its last step.
"""

import base64
import io

import pytest
from PIL import Image as PILImage

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser, live_server_process):
    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "alice", errors=errors)
    yield page
    page.context.close()
    assert not errors, errors


def _png(path, width, height, color=(90, 120, 200)):
    PILImage.new("RGB", (width, height), color).save(path)
    return str(path)


def test_the_step_counter_follows_steps_strength_and_scheduler(page):
    from playwright.sync_api import expect

    page.goto("/create/image-to-image/")
    counter = page.get_by_test_id("effective-steps")
    page.fill("#steps", "50")
    page.fill("#strength", "0.58")
    expect(counter).to_have_text("28 of 50 steps will run")  # int(50 * 0.58), as the server counts
    page.fill("#steps", "20")
    page.fill("#strength", "0.3")
    expect(counter).to_have_text("6 of 20 steps will run")
    expect(page.locator('[data-advice="low-strength"]')).to_contain_text("20 steps run only 6 — 50 would run 15")
    page.select_option("#scheduler", "Heun")
    expect(page.locator("#plan-evals")).to_have_text("· 11 model evaluations")
    page.locator("#strength-range").fill("1")
    expect(counter).to_have_text("20 of 20 steps will run")


def test_no_effective_step_blocks_the_submit_button(page):
    from playwright.sync_api import expect

    page.goto("/create/inpainting/")
    page.fill("#steps", "10")
    page.fill("#strength", "0.05")
    expect(page.get_by_test_id("effective-steps")).to_have_text("0 of 10 steps will run")
    expect(page.locator("#submit")).to_be_disabled()
    expect(page.locator("#submit-blocked")).to_contain_text("runs no denoising step")
    page.fill("#strength", "0.5")
    expect(page.locator("#submit")).to_be_enabled()


def test_the_mask_is_painted_and_sent_at_the_source_size(page, tmp_path):
    from playwright.sync_api import expect

    page.goto("/create/inpainting/")
    page.set_input_files("#seedImage", _png(tmp_path / "source.png", 96, 64))
    expect(page.locator("#source-size")).to_have_text("Source 96 × 64")
    canvas = page.locator("#mask-canvas")
    canvas.scroll_into_view_if_needed()  # the form is taller than the viewport
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    expect(page.locator("#mask-status")).to_contain_text("Repainting")
    page.fill("#positivePrompt", "a red door")
    page.fill("#steps", "4")
    page.fill("#strength", "0.5")
    # create.js writes the mask into the form on submit; keep a copy across the navigation.
    page.evaluate("""document.getElementById('create-form').addEventListener('submit', () =>
        sessionStorage.setItem('mask', document.getElementById('maskImageData').value))""")
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")  # the server accepted it: the mask matches the source size
    data = page.evaluate("sessionStorage.getItem('mask')")
    mask = PILImage.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
    assert mask.size == (96, 64)
    counts = mask.convert("L").getcolors()  # None only past 256 colours, which mode L cannot have
    assert counts is not None
    colors = {color for _, color in counts}
    assert colors == {0, 255}  # black keeps, white repaints


def test_the_outpainting_preview_gives_the_new_size(page, tmp_path):
    from playwright.sync_api import expect

    page.goto("/create/outpainting/")
    page.set_input_files("#seedImage", _png(tmp_path / "source.png", 128, 128))
    page.fill("#outpaintRight", "256")
    expect(page.locator("#outpaint-size")).to_have_text("384 x 128 (source 128 x 128 + 256)")
    page.fill("#outpaintBottom", "64")
    expect(page.locator("#outpaint-size")).to_have_text("384 x 192 (source 128 x 128 + 256 x 64)")


def test_a_job_is_counted_live_to_its_last_step(page):
    from playwright.sync_api import expect

    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", "a lighthouse in the fog")
    page.fill("#steps", "8")
    page.fill("#width", "128")
    page.fill("#height", "128")
    page.focus("#positivePrompt")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/jobs/*/")
    seen = []
    status = page.get_by_test_id("job-status")
    for _ in range(1200):
        seen.append(page.get_by_test_id("step-counter").text_content())
        if status.text_content() in ("succeeded", "failed", "cancelled"):
            break
        page.wait_for_timeout(50)
    expect(status).to_have_text("succeeded")
    expect(page.get_by_test_id("step-counter")).to_have_text("Step 8 of 8")
    expect(page.get_by_test_id("result-image")).to_have_count(1)
    steps = [int(text.split()[1]) for text in seen]
    assert steps == sorted(steps), steps  # the counter never goes back
