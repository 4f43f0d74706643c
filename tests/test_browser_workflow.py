"""The studio's daily workflow in Debian's Chromium, against a real `manage.py serve` (issue 16).

The fixes a walk-through asked for, each where only a browser shows it, at desktop and phone sizes:
the gallery's count follows live arrivals; form errors speak the form's labels beside their field;
a finished job shows its timings (and no "GPU time" on this CPU worker) without a reload, after a
visible "Decoding and saving" stage; the home page's team card; a phone's navigation, task tabs and
touch-only hints; tiles' full model names.

Jobs run on the built-in model at 128 x 128 with 3 steps, to keep this quick on a CPU.
Set STEPWISE_SHOTS=/some/dir to keep screenshots (light and dark, desktop and phone).
"""

import os
import uuid
from pathlib import Path

import pytest

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# What Chromium reports for a phone: a coarse pointer that cannot hover.
TOUCH = {"is_mobile": True, "has_touch": True}


@pytest.fixture
def sign_in(browser, live_server_process):
    """sign_in("bob", theme="dark", viewport=PHONE, touch=True) -> a page in a browser context of its own."""
    pages = []
    errors: list[str] = []

    def sign_in(username, *, touch=False, **options):
        if touch:
            page = _touch_page(browser, live_server_process.url, username, **options)
            page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
        else:
            page = sign_in_as(browser, live_server_process.url, username, errors=errors, **options)
        pages.append(page)
        return page

    yield sign_in
    for page in pages:
        page.context.close()
    assert not errors, errors


def _touch_page(browser, base_url, username, *, viewport=None, theme=None):
    from tests.live import PASSWORD

    context = browser.new_context(base_url=base_url, viewport=viewport or PHONE, **TOUCH)
    if theme:
        context.add_init_script(f"localStorage.setItem('stepwise-theme', '{theme}')")
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")
    return page


def shot(page, name, **options):
    folder = os.environ.get("STEPWISE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), **options)


def submit_text_to_image(page, prompt, *, steps=3, size=128):
    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", prompt)
    page.fill("#steps", str(steps))
    page.fill("#seed", "")
    page.fill("#width", str(size))
    page.fill("#height", str(size))
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")


def wait_succeeded(page):
    from playwright.sync_api import expect

    expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=120_000)


# Broken ----------------------------------------------------------------------------------------


def test_the_gallery_count_follows_a_live_arrival(sign_in):
    from playwright.sync_api import expect

    alice, bob = sign_in("alice"), sign_in("bob")
    bob.goto("/gallery/")
    expect(bob.locator("#live-text")).to_have_text("Live")
    bob.evaluate("window.sameDocument = true")
    before = int(bob.get_by_test_id("gallery-count").get_attribute("data-count"))
    tiles_before = bob.locator("[data-image-id]").count()  # a first page of at most 24

    submit_text_to_image(alice, f"a count that keeps up {uuid.uuid4().hex[:6]}")
    wait_succeeded(alice)

    after = before + 1
    expect(bob.get_by_test_id("gallery-count")).to_have_text(f"{after} image{'s' if after != 1 else ''}",
                                                              timeout=15_000)
    # The new tile goes on top; the older ones stay (the next page skips what is already shown).
    expect(bob.locator("[data-image-id]")).to_have_count(tiles_before + 1)
    assert bob.evaluate("window.sameDocument") is True


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_form_errors_use_the_forms_labels_beside_their_field(sign_in, viewport):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=viewport)
    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", "")
    page.fill("#CFGScale", "99")
    page.click("#submit")
    prompt_error = page.locator(".field:has(#positivePrompt) #positivePrompt-error")
    expect(prompt_error).to_have_text("Prompt is required: describe the image.")
    expect(page.locator(".field:has(#CFGScale) #CFGScale-error")).to_have_text("CFG scale must be between 0 and 50.")
    expect(page.locator("#positivePrompt")).to_have_attribute("aria-describedby", "positivePrompt-error")
    body = page.locator("main").inner_text()
    assert "positivePrompt" not in body and "CFGScale" not in body
    # The error sits right under its field, not somewhere else on the page.
    field_box = page.locator("#positivePrompt").bounding_box()
    error_box = prompt_error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40


OBSERVE_STAGES = """() => {
  window.stages = [];
  const note = document.getElementById("stage-note");
  const name = document.getElementById("phase-name");
  new MutationObserver(() => {
    if (!note.hidden) window.stages.push(name.textContent + " | " + document.getElementById("eta").textContent);
  }).observe(document.body, { subtree: true, attributes: true, childList: true, characterData: true });
}"""


def test_a_finished_job_shows_its_timings_without_a_reload_after_a_decoding_stage(sign_in):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=DESKTOP)
    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", "a lamp on a desk, decoding at the end")
    # Enough steps that the page is watching before the last one (a job nobody watches yet sends
    # no step messages: a 3-step job can end before the page has connected).
    page.fill("#steps", "40")
    page.fill("#width", "256")
    page.fill("#height", "256")
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")
    page.evaluate("window.sameDocument = true")
    page.evaluate(OBSERVE_STAGES)
    wait_succeeded(page)

    timings = page.get_by_test_id("job-timings")
    expect(timings).to_be_visible()
    expect(timings).to_contain_text("Waited in queue")
    expect(timings).to_contain_text("Ran for")
    expect(timings).to_contain_text("Per step")
    expect(timings).not_to_contain_text("GPU time")  # this worker runs on the CPU
    assert page.evaluate("window.sameDocument") is True
    # Between the last step and success the page said what was happening.
    stages = page.evaluate("window.stages")
    assert any(s.startswith("Decoding and saving | finishing") for s in stages), stages
    expect(page.get_by_test_id("stage-note")).to_be_hidden()
    expect(page.locator("#phase-name")).not_to_have_text("Decoding and saving")
    # The replay of the steps it just watched appears too, still without a reload, and scrubs.
    expect(page.get_by_test_id("replay-step")).to_have_text("Step 40 of 40")
    page.get_by_test_id("replay-range").focus()
    page.keyboard.press("Home")
    expect(page.get_by_test_id("replay-step")).to_have_text("Step 1 of 40")
    expect(page.get_by_test_id("replay-phase")).to_have_text("Composition")
    assert page.evaluate("window.sameDocument") is True


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_home_page_counts_the_users_own_shared_images(sign_in, theme):
    from playwright.sync_api import expect

    page = sign_in("charlie", theme=theme, viewport=DESKTOP)  # charlie's team has only his own images
    submit_text_to_image(page, "charlie's own shared harbour")
    wait_succeeded(page)
    page.goto("/")
    expect(page.get_by_role("heading", name="Shared with Studio B")).to_be_visible()
    expect(page.get_by_test_id("team-images").locator("img").first).to_be_visible()
    expect(page.get_by_text("Nothing is shared")).to_have_count(0)
    shot(page, f"home-{theme}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_phone_shows_the_whole_navigation_and_task_tabs_and_no_keyboard_hint(sign_in, theme):
    from playwright.sync_api import expect

    page = sign_in("alice", touch=True, theme=theme, viewport=PHONE)
    page.goto("/create/text-to-image/")
    for selector in (".main-nav a", ".tabs .tab"):
        links = page.locator(selector)
        assert links.count() >= 4
        for i in range(links.count()):
            link = links.nth(i)
            box = link.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, i, box)
            # Nothing inside is cut: the label fits its link.
            assert link.evaluate("a => a.scrollWidth <= a.clientWidth + 1"), (selector, link.inner_text())
    expect(page.locator(".main-nav")).to_contain_text("API docs")
    expect(page.locator(".tabs")).to_contain_text("Inpainting")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_test_id("kbd-hint")).to_be_hidden()
    shot(page, f"create-phone-{theme}", full_page=True)


def test_a_desktop_keeps_the_keyboard_hint(sign_in):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=DESKTOP)
    page.goto("/create/text-to-image/")
    expect(page.get_by_test_id("kbd-hint")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_gallery_tiles_show_the_models_full_name(sign_in, viewport):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=viewport)
    page.goto("/gallery/")
    if page.locator("[data-image-id]").count() == 0:
        submit_text_to_image(page, "a tile with a long model name")
        wait_succeeded(page)
        page.goto("/gallery/")
    model = page.get_by_test_id("tile-model").first
    expect(model).to_have_text("Stepwise Shapes (built-in)")
    assert model.evaluate("el => el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1")
    expect(model).to_have_attribute("title", "Stepwise Shapes (built-in)")


# Friction ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edit(browser, live_server_process):
    """alice's text-to-image result and an image-to-image edit of it: {"source": id, "edit": id, "job": url}."""
    page = sign_in_as(browser, live_server_process.url, "alice", viewport=DESKTOP)
    try:
        prompt = f"a lighthouse on a rock {uuid.uuid4().hex[:6]}"
        submit_text_to_image(page, prompt)
        wait_succeeded(page)
        source = page.locator("[data-image-id]").first.get_attribute("data-image-id")
        page.locator('[data-result-action="source"]').first.click()
        page.wait_for_url("**/create/image-to-image/?source=*")
        page.fill("#positivePrompt", f"{prompt}, in snow")
        page.fill("#steps", "4")
        page.fill("#strength", "0.75")
        page.click("#submit")
        page.wait_for_url("**/jobs/*/")
        wait_succeeded(page)
        job = page.url.removeprefix(live_server_process.url)
        edited = page.locator("[data-image-id]").first.get_attribute("data-image-id")
    finally:
        page.context.close()
    return {"source": source, "edit": edited, "job": job, "prompt": prompt}


@pytest.mark.parametrize("task", ["text-to-image", "inpainting"])
def test_generate_and_the_steps_line_stay_in_view_at_1440x900(sign_in, task):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport={"width": 1440, "height": 900})
    page.goto(f"/create/{task}/")
    expect(page.get_by_test_id("submit-plan")).to_contain_text("steps will run")
    for where in ("top", "bottom"):
        page.evaluate(f"window.scrollTo(0, {0 if where == 'top' else 'document.body.scrollHeight'})")
        page.locator(".create-settings").evaluate(f"el => el.scrollTop = {0 if where == 'top' else 'el.scrollHeight'}")
        for target in (page.locator("#submit"), page.get_by_test_id("submit-plan")):
            box = target.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 900, (where, box)
    # The line follows the sliders.
    page.fill("#steps", "12")
    expected = "12 steps will run" if task == "text-to-image" else "9 of 12 steps will run"
    expect(page.get_by_test_id("submit-plan")).to_have_text(f"{expected} · 1 image")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_job_results_offer_download_use_as_source_reuse_and_open(sign_in, edit, viewport):
    from playwright.sync_api import expect

    page = sign_in("bob", viewport=viewport)  # a teammate, on the page of alice's edit
    page.goto(edit["job"])
    actions = page.locator(f'[data-image-id="{edit["edit"]}"] .result-actions')
    for name in ("Download", "Use as source", "Reuse", "Open"):
        expect(actions.get_by_role("link", name=name)).to_be_visible()
    with page.expect_download() as info:
        actions.get_by_role("link", name="Download").click()
    assert info.value.suggested_filename.endswith(".png")
    actions.get_by_role("link", name="Reuse").click()
    page.wait_for_url(f"**/create/image-to-image/?reuse={edit['edit']}")
    expect(page.locator("#strength")).to_have_value("0.75")
    page.go_back()
    page.locator(f'[data-image-id="{edit["edit"]}"] .result-actions').get_by_role("link", name="Use as source").click()
    page.wait_for_url(f"**/create/image-to-image/?source={edit['edit']}")
    expect(page.locator("#positivePrompt")).to_have_value(f"{edit['prompt']}, in snow")  # the prompt carries over
    expect(page.locator("#steps")).to_have_value("4")
    expect(page.locator(f'input[name="seedImageId"][value="{edit["edit"]}"]')).to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_results_that_arrive_live_have_the_same_actions(sign_in):

    page = sign_in("alice", viewport=DESKTOP)
    submit_text_to_image(page, "a live result with actions")
    page.evaluate("window.sameDocument = true")
    wait_succeeded(page)
    assert page.evaluate("window.sameDocument") is True
    figure = page.locator("[data-image-id]").first
    image_id = figure.get_attribute("data-image-id")
    hrefs = {a.get_attribute("data-result-action"): a.get_attribute("href")
             for a in figure.locator("[data-result-action]").all()}
    assert hrefs == {
        "download": f"/files/images/{image_id}/download/",
        "source": f"/create/image-to-image/?source={image_id}",
        "reuse": f"/create/text-to-image/?reuse={image_id}",
        "open": f"/images/{image_id}/",
    }


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_edit_compares_with_its_source(sign_in, edit, theme):
    from playwright.sync_api import expect

    page = sign_in("alice", theme=theme, viewport=DESKTOP)
    page.goto(f"/images/{edit['edit']}/")
    source = page.get_by_test_id("compare-source")
    expect(source).to_be_hidden()
    page.get_by_role("button", name="Compare with source").click()
    expect(source).to_be_visible()
    expect(page.get_by_role("button", name="Compare with source")).to_have_attribute("aria-pressed", "true")
    slider = page.get_by_test_id("compare-range")
    expect(slider).to_be_focused()
    slider.press("End")  # all source
    assert page.locator("#compare").evaluate("el => el.style.getPropertyValue('--pos')") == "100%"
    slider.press("Home")
    slider.press("ArrowRight")  # the arrows move the line, not to another image
    assert page.locator("#compare").evaluate("el => el.style.getPropertyValue('--pos')") == "1%"
    assert f"/images/{edit['edit']}/" in page.url
    slider.fill("50")
    shot(page, f"image-compare-{theme}")
    # A text-to-image result has nothing to compare with.
    page.goto(f"/images/{edit['source']}/")
    expect(page.get_by_role("button", name="Compare with source")).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_image_page_steps_through_the_filtered_gallery_with_the_arrow_keys_and_zooms(sign_in, edit, viewport):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=viewport)
    query = edit["prompt"].rsplit(" ", 1)[-1]  # matches exactly the source and its edit
    page.goto(f"/gallery/?q={query}")
    expect(page.locator("[data-image-id]")).to_have_count(2)
    page.locator(f'[data-image-id="{edit["edit"]}"]').click()  # the newer one
    page.wait_for_url(f"**/images/{edit['edit']}/?q={query}")
    expect(page.locator("#image-prev")).to_have_count(0)
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**/images/{edit['source']}/?q={query}")
    expect(page.locator("#image-next")).to_have_count(0)  # the end of the filtered gallery
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**/images/{edit['edit']}/?q={query}")

    image = page.get_by_test_id("full-image")
    page.get_by_role("button", name="Actual size").click()
    expect(page.locator("#image-frame")).to_have_class("image-frame zoomed")
    assert image.evaluate("img => img.getBoundingClientRect().width") == image.evaluate("img => img.naturalWidth")
    page.get_by_role("button", name="Fit").click()
    expect(page.locator("#image-frame")).to_have_class("image-frame")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_admin_adds_a_model_from_the_models_folder_in_the_studios_theme(sign_in, live_server_process, theme):
    from playwright.sync_api import expect

    from tests.test_catalog import SD15, write_safetensors

    name = f"picked-{theme}"
    folder = live_server_process.data_dir / "models" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    write_safetensors(folder / f"{name}.safetensors", SD15)

    page = sign_in("alice", theme=theme, viewport=DESKTOP)  # staff on the live server
    page.goto("/admin/studio/modelentry/")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    page.get_by_role("link", name="Add from the models folder").click()
    row = page.locator(f'tr[data-path="checkpoints/{name}.safetensors"]')
    expect(row).to_contain_text("SD 1.5")
    expect(row).to_contain_text("New")
    shot(page, f"admin-import-{theme}")
    for box in page.locator('input[name="path"]').all():  # only this one
        if box.get_attribute("value") != str(folder / f"{name}.safetensors"):
            box.uncheck()
    page.get_by_role("button", name="Import the chosen models").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Imported 1 model(s): {name.replace('-', ' ')}.")
    expect(page.get_by_role("link", name=name.replace("-", " "))).to_be_visible()

    # The admin's own theme button changes the studio's theme too.
    page.locator(".theme-toggle").first.click()
    stored = page.evaluate("localStorage.getItem('stepwise-theme')")
    assert stored != theme


# Expected by people who come from AUTOMATIC1111, InvokeAI and Fooocus ------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_keyboard_shortcuts_and_their_overlay(sign_in, edit, theme):
    from playwright.sync_api import expect

    page = sign_in("alice", theme=theme, viewport=DESKTOP)
    page.goto("/")
    dialog = page.locator("#shortcuts")
    expect(dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Previous and next image")
    shot(page, f"shortcuts-{theme}")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("n")  # new image
    page.wait_for_url("**/create/text-to-image/")
    page.keyboard.press("/")  # focus the prompt
    expect(page.locator("#positivePrompt")).to_be_focused()
    page.keyboard.type("typed, not a shortcut: n g j")
    assert "/create/" in page.url  # letters typed in the prompt are text
    page.locator("#positivePrompt").press("Control+Enter")  # generate
    page.wait_for_url("**/jobs/*/")
    wait_succeeded(page)

    page.keyboard.press("g")
    page.wait_for_url("**/gallery/")
    page.goto(f"/images/{edit['edit']}/")
    page.keyboard.press("z")
    expect(page.locator("#image-frame")).to_have_class("image-frame zoomed")
    page.keyboard.press("c")
    expect(page.get_by_role("button", name="Compare with source")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Compare with source").click()
    page.keyboard.press("Delete")  # asks first, with focus on the safe choice
    expect(page.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Delete permanently")).to_be_hidden()
    assert f"/images/{edit['edit']}/" in page.url


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_favourites_by_key_or_tap_and_the_gallery_filter(sign_in, edit, viewport):
    from playwright.sync_api import expect

    page = sign_in("bob", viewport=viewport)  # bob's favourites are his own
    page.goto(f"/images/{edit['source']}/")
    button = page.locator("#favourite-toggle")
    expect(button).to_have_attribute("aria-pressed", "false")
    if viewport is DESKTOP:
        page.keyboard.press("f")
    else:
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    page.goto("/gallery/?favourites=1")
    tiles = page.locator("[data-image-id]")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-image-id", edit["source"])
    expect(tiles.first.get_by_test_id("tile-favourite")).to_be_visible()
    tiles.first.click()
    page.locator("#favourite-toggle").click()  # and off again
    expect(page.locator("#favourite-toggle")).to_have_attribute("aria-pressed", "false")
    page.goto("/gallery/?favourites=1")
    expect(page.locator("[data-image-id]")).to_have_count(0)


def test_same_settings_new_seed_and_the_prompt_history(sign_in, edit):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=DESKTOP)
    page.goto(f"/images/{edit['edit']}/")
    page.get_by_role("link", name="Same settings, new seed").click()
    page.wait_for_url("**/create/image-to-image/?reuse=*&seed=random")
    expect(page.locator("#positivePrompt")).to_have_value(f"{edit['prompt']}, in snow")
    expect(page.locator("#seed")).to_have_value("")

    page.goto("/create/text-to-image/")
    page.fill("#positivePrompt", "")
    page.locator("#prompt-history > summary").click()
    page.get_by_role("button", name=edit["prompt"], exact=True).click()
    expect(page.locator("#positivePrompt")).to_have_value(edit["prompt"])
    expect(page.locator("#prompt-count")).to_have_text(f"{len(edit['prompt'])} / 3000")
    expect(page.locator("#prompt-history")).not_to_have_attribute("open", "")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_select_several_images_to_download_and_change_their_visibility(sign_in, edit, viewport):
    import io
    import zipfile

    from playwright.sync_api import expect

    page = sign_in("alice", viewport=viewport)
    query = edit["prompt"].rsplit(" ", 1)[-1]
    page.goto(f"/gallery/?q={query}")
    page.get_by_role("button", name="Select").click()
    bar = page.locator("#bulk-form")
    expect(bar).to_be_visible()
    expect(bar.get_by_role("button", name="Download zip")).to_be_disabled()
    page.locator(f'[data-image-id="{edit["source"]}"] .tile').click()  # selects, does not open
    assert "/gallery/" in page.url
    page.get_by_role("button", name="Select all shown").click()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    with page.expect_download() as info:
        bar.get_by_role("button", name="Download zip").click()
    with open(info.value.path(), "rb") as handle:
        assert len(zipfile.ZipFile(io.BytesIO(handle.read())).namelist()) == 2

    bar.get_by_role("button", name="Make private").click()
    expect(page.locator(".messages")).to_contain_text("Private: 2 images.")
    expect(page.locator(f'[data-image-id="{edit["edit"]}"]')).to_contain_text("Private")
    page.get_by_role("button", name="Select").click()
    page.get_by_role("button", name="Select all shown").click()
    page.locator("#bulk-form").get_by_role("button", name="Share with team").click()
    expect(page.locator(".messages")).to_contain_text("Shared with the team: 2 images.")


# The main pages, light and dark (docs/screenshots/ holds a set: STEPWISE_SHOTS=docs/screenshots) ------


@pytest.fixture(scope="module")
def showcase(browser, live_server_process, edit):
    """A few more of alice's images, so the gallery and the home page have something to show."""
    page = sign_in_as(browser, live_server_process.url, "alice", viewport=DESKTOP)
    try:
        for prompt in ("a yellow star on a purple background", "a red circle on a blue background",
                       "a green square on an orange background"):
            submit_text_to_image(page, prompt, steps=6, size=256)
            wait_succeeded(page)
        job = page.url.removeprefix(live_server_process.url)
    finally:
        page.context.close()
    return {**edit, "last_job": job}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_main_pages_in_both_themes(sign_in, showcase, theme):
    from playwright.sync_api import expect

    page = sign_in("alice", theme=theme, viewport={"width": 1440, "height": 900})
    pages = [("home", "/"), ("create", "/create/text-to-image/"), ("job", showcase["last_job"]),
             ("gallery", "/gallery/"), ("image", f"/images/{showcase['edit']}/"),
             ("admin-models", "/admin/studio/modelentry/import/")]
    for name, url in pages:
        page.goto(url)
        if name == "image":
            page.get_by_role("button", name="Compare with source").click()
        if name == "gallery":
            expect(page.locator("#live-text")).to_have_text("Live")
        page.wait_for_function("() => [...document.images].every(img => img.complete)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1440, name
        shot(page, f"{name}-{theme}")
