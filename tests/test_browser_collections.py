"""Seed variations, saved styles and boards in Debian's Chromium, against a real `manage.py serve`
(issue 16's "Expected" list). Jobs run on the built-in model at 128 x 128 with 3 steps."""

import re
import uuid

import pytest

from tests.test_browser_workflow import DESKTOP, PHONE, sign_in, submit_text_to_image, wait_succeeded  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
