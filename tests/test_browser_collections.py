"""Seed variations, saved styles and boards in Debian's Chromium, against a real `manage.py serve`
(issue 16's "Expected" list). Jobs run on the built-in model at 128 x 128 with 3 steps."""

import uuid

import pytest

from tests import test_browser_workflow as workflow
from tests.test_browser_workflow import DESKTOP, PHONE, submit_text_to_image, wait_succeeded

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sign_in = workflow.sign_in  # the fixture: sign_in("bob", viewport=PHONE, touch=True) -> a page


def test_variations_from_an_image_keep_its_seed_and_count_the_variation_seed_up(sign_in):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=DESKTOP)
    # On the form the switch hides the two fields until it is on.
    page.goto("/create/text-to-image/")
    expect(page.locator("#variationStrength")).to_be_hidden()
    page.get_by_label("Variations").check()
    expect(page.locator("#variationStrength")).to_be_visible()
    expect(page.locator("#variationSeed")).to_have_attribute("placeholder", "Random")

    submit_text_to_image(page, f"a blue triangle {uuid.uuid4().hex[:6]}")
    wait_succeeded(page)
    image_id = page.locator("[data-image-id]").first.get_attribute("data-image-id")
    page.goto(f"/images/{image_id}/")
    seed = page.get_by_test_id("image-seed").inner_text().strip()
    page.get_by_test_id("variations-from-image").click()
    page.wait_for_url("**/create/text-to-image/?reuse=*&variations=1")
    expect(page.locator("#variations")).to_be_checked()
    expect(page.locator("#variationStrength")).to_have_value("0.15")
    expect(page.locator("#seed")).to_have_value(seed)
    expect(page.locator("#numberResults")).to_have_value("4")
    page.fill("#numberResults", "2")
    page.fill("#variationSeed", "500")
    page.locator("#variationStrength-range").fill("0.3")
    expect(page.locator("#variationStrength")).to_have_value("0.30")
    page.click("#submit")
    page.wait_for_url("**/jobs/*/")
    wait_succeeded(page)
    expect(page.locator("[data-image-id]")).to_have_count(2)
    second = page.locator("[data-image-id]").nth(1).get_attribute("data-image-id")
    page.goto(f"/images/{second}/")
    expect(page.get_by_test_id("image-seed")).to_have_text(seed)
    expect(page.get_by_test_id("image-variation")).to_have_text("seed 501 · strength 0.3")
    expect(page.locator("#a1111")).to_contain_text("Variation seed: 501, Variation seed strength: 0.3")
    # Reuse brings the variation back, switched on.
    page.get_by_role("link", name="Reuse these parameters").click()
    expect(page.locator("#variations")).to_be_checked()
    expect(page.locator("#variationSeed")).to_have_value("501")
    expect(page.locator("#variationStrength")).to_have_value("0.3")


def test_a_saved_style_applies_with_one_click_and_the_team_shares_it(sign_in):
    from playwright.sync_api import expect

    name = f"Cinematic {uuid.uuid4().hex[:6]}"
    page = sign_in("alice", viewport=DESKTOP)
    page.goto("/create/text-to-image/")
    page.locator("#styles-picker > summary").click()
    page.fill("#positivePrompt", "cinematic still of {prompt}, film grain")
    page.fill("#negativePrompt", "cartoon")
    page.fill("#style-name", name)
    page.press("#style-name", "Enter")  # saves the style; the create form stays
    expect(page.locator("#styles-status")).to_have_text(f"Saved {name}.")
    assert page.url.endswith("/create/text-to-image/")
    style = page.locator(".style-item", has_text=name)
    expect(style.locator(".style-owner")).to_have_text("team")

    page.fill("#positivePrompt", "a red fox,")
    page.fill("#negativePrompt", "")
    style.get_by_role("button", name=name, exact=True).click()
    expect(page.locator("#positivePrompt")).to_have_value("cinematic still of a red fox, film grain")
    expect(page.locator("#negativePrompt")).to_have_value("cartoon")
    expect(page.locator("#prompt-count")).to_have_text("40 / 3000")

    bob = sign_in("bob", viewport=DESKTOP)
    bob.goto("/create/image-to-image/")  # every task's form offers the styles
    bob.locator("#styles-picker > summary").click()
    shared = bob.locator(".style-item", has_text=name)
    expect(shared.locator(".style-owner")).to_have_text("alice")
    expect(shared.locator(".style-delete")).to_have_count(0)  # only alice deletes it
    charlie = sign_in("charlie", viewport=DESKTOP)
    charlie.goto("/create/text-to-image/")
    expect(charlie.locator(".style-item", has_text=name)).to_have_count(0)

    style.get_by_role("button", name=f"Delete the style {name}").click()
    expect(page.locator(".style-item", has_text=name)).to_have_count(0)
    page.reload()
    page.locator("#styles-picker > summary").click()
    expect(page.locator(".style-item", has_text=name)).to_have_count(0)


@pytest.fixture(scope="module")
def picture(browser, live_server_process):
    """One of alice's images, shared with Studio A: {"id", "prompt"}."""
    from tests.browser import sign_in as sign_in_as

    page = sign_in_as(browser, live_server_process.url, "alice", viewport=DESKTOP)
    try:
        prompt = f"a purple hexagon {uuid.uuid4().hex[:6]}"
        submit_text_to_image(page, prompt)
        wait_succeeded(page)
        image_id = page.locator("[data-image-id]").first.get_attribute("data-image-id")
    finally:
        page.context.close()
    return {"id": image_id, "prompt": prompt}


def test_a_team_board_from_the_image_page_and_the_gallery_selection(sign_in, picture):
    from playwright.sync_api import expect

    name = f"Key art {uuid.uuid4().hex[:6]}"
    page = sign_in("alice", viewport=DESKTOP)
    page.goto("/boards/")
    page.fill("#board-name", name)
    page.get_by_role("button", name="Create board").click()
    expect(page.get_by_test_id("board-head")).to_contain_text(name)
    expect(page.get_by_test_id("board-head")).to_contain_text("Shared with Studio A")
    board_url = page.url

    # From the image page: pick the board, add; it shows as a chip.
    page.goto(f"/images/{picture['id']}/")
    page.locator("#add-to-board").select_option(label=name)
    page.locator("#image-boards").get_by_role("button", name="Add to board").click()
    expect(page.locator(".messages")).to_contain_text(f"Added to {name}.")
    expect(page.locator("#image-boards .board-chip", has_text=name)).to_be_visible()

    # The gallery filters by board; the selection bar adds and removes.
    page.goto("/gallery/")
    page.locator("#filter-board").select_option(label=name)
    page.wait_for_url("**/gallery/?*board=*")
    expect(page.locator("#gallery-grid [data-image-id]")).to_have_count(1)
    expect(page.get_by_test_id("gallery-count")).to_have_text("1 image matches")

    bob = sign_in("bob", viewport=DESKTOP)
    bob.goto("/boards/")
    bob.locator(".board-card", has_text=name).click()
    expect(bob.locator(f'[data-image-id="{picture["id"]}"]')).to_be_visible()
    expect(bob.get_by_test_id("board-head")).not_to_contain_text("Delete board")  # not his to delete
    charlie = sign_in("charlie", viewport=DESKTOP)
    charlie.goto("/boards/")
    expect(charlie.locator(".board-card", has_text=name)).to_have_count(0)
    charlie.goto(board_url.split("/gallery/", 1)[0] + "/gallery/" + board_url.split("/gallery/", 1)[1])
    expect(charlie.get_by_test_id("board-head")).to_have_count(0)
    expect(charlie.locator(f'[data-image-id="{picture["id"]}"]')).to_have_count(0)

    page.goto(board_url)
    page.get_by_role("button", name="Select").click()
    page.get_by_role("button", name="Select all shown").click()
    page.locator("#bulk-form").get_by_role("button", name="Remove from board").click()
    expect(page.locator(".messages")).to_contain_text(f"Removed from {name}: 1 image.")
    expect(page.locator("#gallery-empty")).to_contain_text(f"{name} has no images")

    page.goto(f"/gallery/?q={picture['prompt'].rsplit(' ', 1)[-1]}")
    page.get_by_role("button", name="Select").click()
    page.get_by_role("button", name="Select all shown").click()
    page.locator("#bulk-board").select_option(label=name)
    page.locator("#bulk-form").get_by_role("button", name="Add to board").click()
    expect(page.locator(".messages")).to_contain_text(f"Added to {name}: 1 image.")

    page.goto(board_url)
    page.get_by_test_id("board-head").get_by_text("Delete board…").click()
    page.get_by_role("button", name="Delete board", exact=True).click()
    page.wait_for_url("**/boards/")
    expect(page.locator(".messages")).to_contain_text(f"Board {name} deleted; its images stay in the gallery.")
    page.goto(f"/images/{picture['id']}/")
    expect(page.get_by_test_id("full-image")).to_be_visible()


def test_boards_styles_and_variations_fit_a_phone(sign_in, picture):
    from playwright.sync_api import expect

    page = sign_in("alice", viewport=PHONE, touch=True)
    page.goto(f"/images/{picture['id']}/")
    if page.locator(".board-new-inline").get_attribute("open") is None:  # open already when alice has no boards
        page.locator(".board-new-inline > summary").click()
    page.fill("#new-board-name", f"Phone board {uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Create and add").click()
    expect(page.locator("#image-boards .board-chip")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto("/boards/")
    expect(page.locator(".board-card").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator(".board-card").first.click()
    expect(page.get_by_test_id("board-head")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.goto("/create/text-to-image/")
    page.locator("#styles-picker > summary").click()
    expect(page.locator("#style-save")).to_be_visible()
    page.get_by_label("Variations").check()
    expect(page.locator("#variationStrength")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    workflow.shot(page, "create-styles-phone", full_page=True)
