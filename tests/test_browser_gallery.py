"""The team gallery and image metadata in Debian's Chromium, against a real `manage.py serve`.

What only a browser shows: bob's open gallery gains alice's new image without a reload while
charlie's (another team) does not; "Reuse these parameters" opens the right form filled in; the
downloaded PNG carries its `parameters` chunk; and such a PNG, picked as a source or dropped on the
text-to-image page, offers its parameters back (static/js/pngmeta.js).

Jobs run on the built-in model at 128 x 128 with 3-4 steps, to keep this quick on a CPU.
Set STEPWISE_SHOTS=/some/dir to keep screenshots of the notice (light, dark, phone width).
"""

import base64
import io
import json
import os
import uuid
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import PngImagePlugin

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
# The image every test but the first reuses: made once per module by alice, shared with Studio A.
ALICE = {"prompt": "a lighthouse at dusk, brass and fog", "negative": "blurry", "steps": 4, "cfg": "6.5",
         "scheduler": "DPM++ 2M Karras", "seed": 4242}


@pytest.fixture
def sign_in(browser, live_server_process):
    """sign_in("bob", theme="dark", viewport=PHONE) -> a page in a browser context of its own."""
    pages = []
    errors: list[str] = []

    def sign_in(username, **options):
        page = sign_in_as(browser, live_server_process.url, username, errors=errors, **options)
        pages.append(page)
        return page

    yield sign_in
    for page in pages:
        page.context.close()
    assert not errors, errors


def generate(page, prompt, *, steps=3, negative="", cfg="", scheduler="", seed=""):
    """Submit the text-to-image form at 128 x 128 and wait for the job; returns the image id."""
    from playwright.sync_api import expect

    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", prompt)
    page.fill("#negativePrompt", negative)
    page.fill("#steps", str(steps))
    if cfg:
        page.fill("#CFGScale", cfg)
    if scheduler:
        page.select_option("#scheduler", scheduler)
    page.fill("#seed", str(seed))
    page.fill("#width", "128")
    page.fill("#height", "128")
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")
    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=120_000)
    href = page.locator("a:has([data-testid=result-image])").first.get_attribute("href")
    return href.rstrip("/").rsplit("/", 1)[-1]


def download(page, image_id, folder):
    """Click "Download PNG" on the image page; returns the saved file."""
    page.goto(f"/images/{image_id}/")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PNG").click()
    path = Path(folder) / info.value.suggested_filename
    info.value.save_as(path)
    return path


def shot(page, name, **options):
    folder = os.environ.get("STEPWISE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), **options)


@pytest.fixture(scope="module")
def alice_image(browser, live_server_process):
    page = sign_in_as(browser, live_server_process.url, "alice")
    try:
        image_id = generate(page, ALICE["prompt"], steps=ALICE["steps"], negative=ALICE["negative"],
                            cfg=ALICE["cfg"], scheduler=ALICE["scheduler"], seed=ALICE["seed"])
    finally:
        page.context.close()
    return image_id


def test_a_teammate_sees_a_new_image_arrive_live_and_another_team_does_not(sign_in):
    from playwright.sync_api import expect

    alice, bob, charlie = sign_in("alice"), sign_in("bob"), sign_in("charlie")
    for page in (bob, charlie):
        page.goto("/gallery/")
        expect(page.locator("#live-text")).to_have_text("Live")  # subscribed before alice starts
        page.evaluate("window.sameDocument = true")  # a reload would lose it
    prompt = f"a harbour at night {uuid.uuid4().hex[:8]}"

    image_id = generate(alice, prompt, steps=3)

    tile = bob.locator(f'[data-image-id="{image_id}"]')
    expect(tile).to_be_visible(timeout=15_000)
    expect(tile).to_contain_text(prompt)
    expect(tile).to_contain_text("alice")
    assert bob.evaluate("window.sameDocument") is True
    if os.environ.get("STEPWISE_SHOTS"):
        bob.wait_for_timeout(700)  # the tile's arrival animation
        shot(bob, "gallery-bob-live")
    charlie.wait_for_timeout(2_000)  # well past bob's update: the same message would have arrived by now
    expect(charlie.locator(f'[data-image-id="{image_id}"]')).to_have_count(0)
    expect(charlie.get_by_text(prompt)).to_have_count(0)
    assert charlie.evaluate("window.sameDocument") is True
    charlie.reload()
    expect(charlie.get_by_text(prompt)).to_have_count(0)


def test_reuse_these_parameters_opens_the_right_form_filled_in(sign_in, alice_image):
    from playwright.sync_api import expect

    bob = sign_in("bob")  # a teammate reuses alice's team image
    bob.goto(f"/images/{alice_image}/")
    bob.get_by_role("link", name="Reuse these parameters").click()
    bob.wait_for_url(f"**/create/text-to-image/?reuse={alice_image}")
    expect(bob.locator('.tab[aria-current="page"]')).to_have_text("Text to image")
    expect(bob.locator("#positivePrompt")).to_have_value(ALICE["prompt"])
    expect(bob.locator("#negativePrompt")).to_have_value(ALICE["negative"])
    expect(bob.locator("#steps")).to_have_value(str(ALICE["steps"]))
    expect(bob.locator("#scheduler")).to_have_value(ALICE["scheduler"])
    expect(bob.locator("#seed")).to_have_value(str(ALICE["seed"]))
    expect(bob.locator("#CFGScale")).to_have_value(ALICE["cfg"])
    expect(bob.locator("#width")).to_have_value("128")

    # An image-to-image result reopens the image-to-image form, with its strength and source.
    bob.goto(f"/images/{alice_image}/")
    bob.get_by_role("link", name="Image to image").click()
    bob.fill("#positivePrompt", "the same lighthouse in snow")
    bob.fill("#steps", "4")
    bob.fill("#strength", "0.5")
    bob.click("#submit")
    bob.wait_for_url("**/jobs/*/")
    expect(bob.get_by_test_id("job-status")).to_have_text("succeeded", timeout=120_000)
    bob.locator("a:has([data-testid=result-image])").first.click()
    bob.get_by_role("link", name="Reuse these parameters").click()
    bob.wait_for_url("**/create/image-to-image/?reuse=*")
    expect(bob.locator('.tab[aria-current="page"]')).to_have_text("Image to image")
    expect(bob.locator("#positivePrompt")).to_have_value("the same lighthouse in snow")
    expect(bob.locator("#strength")).to_have_value("0.5")
    expect(bob.get_by_test_id("effective-steps")).to_have_text("2 of 4 steps will run")
    expect(bob.locator(f'input[name="seedImageId"][value="{alice_image}"]')).to_be_checked()


def test_the_download_is_a_png_carrying_its_parameters(sign_in, alice_image, tmp_path):
    alice = sign_in("alice")
    path = download(alice, alice_image, tmp_path)

    png = PILImage.open(path)
    assert isinstance(png, PngImagePlugin.PngImageFile) and png.size == (128, 128)
    parameters = png.text["parameters"]
    assert parameters.startswith(f"{ALICE['prompt']}\nNegative prompt: {ALICE['negative']}\nSteps: 4, ")
    assert "Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, " in parameters
    assert f"Seed: {ALICE['seed']}, Size: 128x128, " in parameters
    request = json.loads(png.text["stepwise"])
    assert (request["seed"], request["steps"], request["scheduler"]) == (ALICE["seed"], 4, ALICE["scheduler"])

    # The same link with charlie's session cookies: not his team's image, so there is nothing there.
    charlie = sign_in("charlie")
    response = charlie.request.get(f"/files/images/{alice_image}/download/")
    assert response.status == 404
    assert not response.body().startswith(b"\x89PNG")


def test_a_downloaded_png_picked_as_the_source_offers_its_parameters(sign_in, alice_image, tmp_path):
    from playwright.sync_api import expect

    bob = sign_in("bob")
    path = download(bob, alice_image, tmp_path)
    bob.goto("/create/image-to-image/")
    expect(bob.locator("#positivePrompt")).to_have_value("")

    bob.set_input_files("#seedImage", str(path))

    notice = bob.get_by_test_id("png-params")
    expect(notice).to_contain_text(
        f"This image carries its generation parameters (prompt, steps 4, seed {ALICE['seed']}, "
        f"scheduler {ALICE['scheduler']}). Reuse them?")
    expect(notice).to_contain_text(ALICE["prompt"])
    expect(bob.locator("#source-size")).to_have_text("Source 128 × 128")
    shot(bob, "notice-offer-light")
    notice.get_by_role("button", name="Reuse them").click()
    expect(notice).to_contain_text("Filled in from this image")
    expect(bob.locator("#positivePrompt")).to_have_value(ALICE["prompt"])
    expect(bob.locator("#negativePrompt")).to_have_value(ALICE["negative"])
    expect(bob.locator("#steps")).to_have_value("4")
    expect(bob.locator("#CFGScale")).to_have_value("6.5")
    expect(bob.locator("#scheduler")).to_have_value(ALICE["scheduler"])
    expect(bob.locator("#seed")).to_have_value(str(ALICE["seed"]))
    expect(bob.locator("#strength")).to_have_value("0.80")  # a text-to-image PNG has none: kept
    expect(bob.get_by_test_id("effective-steps")).to_have_text("3 of 4 steps will run")
    shot(bob, "notice-done-light")

    # The filled-in form is one the server takes as it is.
    bob.click("#submit")
    bob.wait_for_url("**/jobs/*/")
    expect(bob.get_by_test_id("job-status")).to_have_text("succeeded", timeout=120_000)
    expect(bob.get_by_test_id("step-counter")).to_have_text("Step 3 of 3")

    # Dismissed with Escape: the notice goes and focus lands on the source controls, not the page top.
    bob.goto("/create/inpainting/")
    bob.set_input_files("#seedImage", str(path))
    notice.get_by_role("button", name="Reuse them").focus()
    bob.keyboard.press("Escape")
    expect(notice).to_have_count(0)
    expect(bob.locator("#source-change")).to_be_focused()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_notice_fits_a_phone(sign_in, alice_image, tmp_path, theme):
    from playwright.sync_api import expect

    bob = sign_in("bob", theme=theme, viewport=PHONE)
    path = download(bob, alice_image, tmp_path)
    bob.goto("/create/image-to-image/")
    bob.set_input_files("#seedImage", str(path))
    notice = bob.get_by_test_id("png-params")
    expect(notice).to_be_visible()
    notice.evaluate("notice => notice.scrollIntoView({ block: 'center' })")  # clear of the fixed Generate bar
    box = notice.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert bob.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    button = notice.get_by_role("button", name="Reuse them").bounding_box()
    assert button["height"] >= 24 and button["width"] >= 44, button  # a thumb can hit it
    shot(bob, f"notice-phone-{theme}")


def _a1111_png(parameters):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters)
    out = io.BytesIO()
    PILImage.new("RGB", (64, 64), (30, 60, 90)).save(out, format="PNG", pnginfo=info)
    return base64.b64encode(out.getvalue()).decode()


DROP = """([data, name]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  return transfer;
}"""


def test_an_a1111_png_dropped_on_text_to_image_fills_the_form(sign_in):
    from playwright.sync_api import expect

    charlie = sign_in("charlie", theme="dark")
    charlie.goto("/create/text-to-image/")
    transfer = charlie.evaluate_handle(DROP, [_a1111_png(
        "a castle on a hill, golden hour\nNegative prompt: lowres, text\n"
        "Steps: 12, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 987654321, Size: 768x512, "
        'Model hash: 1a2b3c, Model: juggernautXL, Lora hashes: "detail: 4d5e", Version: v1.10.1'), "castle.png"])
    charlie.dispatch_event("#positivePrompt", "dragover", {"dataTransfer": transfer})
    expect(charlie.locator("#drop-overlay")).to_be_visible()
    shot(charlie, "drop-overlay-dark")
    charlie.dispatch_event("#positivePrompt", "drop", {"dataTransfer": transfer})
    expect(charlie.locator("#drop-overlay")).to_be_hidden()

    notice = charlie.get_by_test_id("png-params")
    expect(notice).to_contain_text("(prompt, steps 12, seed 987654321, scheduler DPM++ 2M Karras). Reuse them?")
    shot(charlie, "notice-a1111-dark")
    notice.get_by_role("button", name="Reuse them").click()
    expect(charlie.locator("#positivePrompt")).to_have_value("a castle on a hill, golden hour")
    expect(charlie.locator("#negativePrompt")).to_have_value("lowres, text")
    expect(charlie.locator("#steps")).to_have_value("12")
    expect(charlie.locator("#scheduler")).to_have_value("DPM++ 2M Karras")
    expect(charlie.locator("#CFGScale")).to_have_value("5.5")
    expect(charlie.locator("#seed")).to_have_value("987654321")
    expect(charlie.locator("#width")).to_have_value("768")
    expect(charlie.locator("#height")).to_have_value("512")
    expect(notice).to_contain_text("It was made with juggernautXL; the model stays")

    # A PNG without parameters, through the file picker: says so instead of staying silent.
    charlie.set_input_files("#params-file", files=[{
        "name": "plain.png", "mimeType": "image/png", "buffer": base64.b64decode(_a1111_png("just a caption"))}])
    expect(notice).to_contain_text("plain.png carries no generation parameters")
    expect(notice.get_by_role("button", name="Reuse them")).to_have_count(0)
