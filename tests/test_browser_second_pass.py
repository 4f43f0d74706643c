"""The second pass in Debian's Chromium: the hires fix's and the refiner's step counts live on the
form, and a hires-fix job running to the end in the live app with one contiguous step counter."""

import json

import pytest

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SDXL = "local:browser-xl@1"
ADD_SDXL = ("from webapp.studio.models import ModelEntry;"
            f"ModelEntry.objects.get_or_create(air='{SDXL}', defaults=dict(name='Browser XL', architecture='sdxl', "
            "path='/nonexistent/xl'))")
REMOVE_SDXL = f"from webapp.studio.models import ModelEntry; ModelEntry.objects.filter(air='{SDXL}').delete()"


@pytest.fixture
def page(browser, live_server_process):
    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "alice", errors=errors)
    yield page
    page.context.close()
    assert not errors, errors


def test_the_hires_fix_counts_its_pass_live_and_runs_with_one_step_counter(page, tmp_path):
    from playwright.sync_api import expect

    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", "a yellow star on a purple background")
    page.fill("#steps", "6")
    page.fill("#width", "128")
    page.fill("#height", "128")
    count = page.get_by_test_id("effective-steps")
    expect(count).to_have_text("6 steps will run")
    page.locator("#second-pass summary").click()
    page.select_option("#hiresUpscale", "2")
    expect(page.locator("#hires-settings")).to_be_visible()
    page.fill("#hiresSteps", "8")
    page.fill("#hiresStrength", "0.5")
    # The second pass is steps x strength, counted while the inputs move, above Generate too.
    expect(count).to_have_text("10 steps: 6 base + 4 hires")
    expect(page.get_by_test_id("submit-plan")).to_contain_text("10 steps: 6 base + 4 hires")
    expect(page.get_by_test_id("hires-size")).to_have_text("128 × 128 → 256 × 256")
    page.fill("#hiresStrength", "0.75")
    expect(count).to_have_text("12 steps: 6 base + 6 hires")
    expect(page.locator("#plan-caption")).to_contain_text("hires fix upscales ×2 and runs 6 of 8 steps")
    page.locator(".create-side-card").screenshot(path=str(tmp_path / "hires-form-light.png"))

    # Every progress message the job page receives, in order.
    steps: list[tuple[int, int]] = []

    def on_socket(socket):
        def on_frame(payload):
            try:
                message = json.loads(payload)
            except (TypeError, ValueError):
                return
            if message.get("type") == "progress":  # the steps since the last message
                steps.extend((step, message["totalSteps"]) for step in message["steps"])
        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=180_000)
    expect(page.get_by_test_id("step-counter")).to_have_text("Step 12 of 12")
    # One counter across both passes: from the first message the page got, every step once, in order.
    assert steps, "the job page received no progress"
    numbers = [step for step, _ in steps]
    assert {total for _, total in steps} == {12}
    assert numbers == list(range(numbers[0], 13)), numbers
    page.screenshot(path=str(tmp_path / "hires-job-light.png"), full_page=True)
    # The image is the upscaled one, and its page names both passes.
    page.locator("[data-result-action='open']").first.click()
    page.wait_for_url("**/images/*/")
    expect(page.get_by_test_id("image-passes")).to_have_text("12 in all: 6 base + 6 hires")
    expect(page.locator("dd", has_text="256 × 256")).to_have_count(1)

    # Its PNG restores the hires fix on the text-to-image form.
    png = page.request.get(page.locator("a[href*='/download/']").first.get_attribute("href"))
    path = tmp_path / "hires.png"
    path.write_bytes(png.body())
    image_page = page.url
    page.goto("/create/text-to-image/")
    page.set_input_files("#params-file", str(path))
    page.get_by_test_id("png-params").get_by_role("button", name="Reuse them").click()
    expect(page.locator("#hiresUpscale")).to_have_value("2")
    expect(page.get_by_test_id("effective-steps")).to_have_text("12 steps: 6 base + 6 hires")
    page.goto(image_page)

    # The image page's Upscale action: image to image at 2x the source, a light pass.
    page.get_by_test_id("upscale-action").filter(has_text="2×").click()
    page.wait_for_url("**/create/image-to-image/**")
    expect(page.locator("#upscale")).to_have_value("2")
    expect(page.locator("#width")).to_be_disabled()
    expect(page.get_by_test_id("upscale-size")).to_have_text("256 × 256 → 512 × 512")
    expect(page.get_by_test_id("effective-steps")).to_have_text("1 of 6 steps will run")  # 6 x 0.30


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_refiner_split_shows_live_for_an_sdxl_model(browser, live_server_process, tmp_path, theme):
    from playwright.sync_api import expect

    live_server_process.manage("shell", "-c", ADD_SDXL)
    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "bob", theme=theme, errors=errors)
    try:
        page.goto("/create/text-to-image/")
        page.locator("#second-pass summary").click()
        # The built-in model is SD 1.5: no refiner offered.
        expect(page.locator("#refiner-field")).to_be_hidden()
        page.select_option("#model", SDXL)
        expect(page.locator("#refiner-field")).to_be_visible()
        page.select_option("#scheduler", "Euler")
        page.fill("#steps", "30")
        page.select_option("#refinerModel", SDXL)
        count = page.get_by_test_id("effective-steps")
        expect(count).to_have_text("30 steps: 24 base + 6 refiner")  # 80% by default
        page.fill("#refinerStartStep", "20")
        expect(count).to_have_text("30 steps: 20 base + 10 refiner")
        page.fill("#steps", "40")
        expect(count).to_have_text("40 steps: 20 base + 20 refiner")
        expect(page.locator("#plan-caption")).to_contain_text("runs steps 21-40 of the same schedule")
        page.locator(".create-side-card").screenshot(path=str(tmp_path / f"refiner-form-{theme}.png"))
        # Back to the SD 1.5 model: the refiner is hidden and not sent.
        page.select_option("#model", "stepwise:1@1")
        expect(page.locator("#refiner-field")).to_be_hidden()
        expect(count).not_to_contain_text("refiner")
    finally:
        page.context.close()
        live_server_process.manage("shell", "-c", REMOVE_SDXL)
    assert not errors, errors

