"""The add-ons panel in Debian's Chromium: picking a LoRA, moving its weight, inserting a trigger word."""

import json

import pytest

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADD_LORAS = (
    "from webapp.studio.models import ModelEntry;"
    "ModelEntry.objects.get_or_create(air='local:ohwx@1', defaults=dict(name='Ohwx person', kind='lora', "
    "path='/nonexistent/ohwx.safetensors', trigger_words='ohwx, red hair', default_weight=0.8));"
    "ModelEntry.objects.get_or_create(air='local:xl@1', defaults=dict(name='XL only', kind='lora', "
    "architecture='sdxl', path='/nonexistent/xl.safetensors'))"
)


@pytest.fixture
def page(browser, live_server_process):
    live_server_process.manage("shell", "-c", ADD_LORAS)
    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "alice", errors=errors)
    yield page
    page.context.close()
    assert not errors, errors


def test_picking_a_lora_and_moving_its_weight(page, live_server_process, tmp_path):
    page.goto("/create/text-to-image/")
    # Only the LoRA made for the built-in model's architecture (SD 1.5) is offered.
    # (The live server is shared: other tests' SD 1.5 LoRAs may be in its catalog too.)
    offered = page.locator("#lora option:not([disabled])[data-family]").all_inner_texts()
    assert "Ohwx person · SD 1.5" in offered and all(label.endswith(" · SD 1.5") for label in offered), offered
    page.select_option("#lora", "local:ohwx@1")
    page.click("#lora-add")
    row = page.locator('.lora-row[data-air="local:ohwx@1"]')
    weight = row.locator("[data-weight]")
    assert weight.input_value() == "0.8"  # the catalog's default weight
    assert weight.evaluate("el => el === document.activeElement")
    # The slider moves the number (keyboard: four steps of 0.05 to the right).
    slider = row.locator("[data-weight-range]")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    assert weight.input_value() == "1"
    # A trigger word goes into the prompt.
    page.fill("#positivePrompt", "a portrait")
    row.get_by_role("button", name="red hair").click()
    assert page.input_value("#positivePrompt") == "a portrait, red hair"
    page.screenshot(path=str(tmp_path / "addons-light.png"), full_page=True)

    page.click("#submit")
    page.wait_for_url("**/jobs/**")
    job_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    out = live_server_process.manage("shell", "-c", (
        "import json; from webapp.studio.models import Job;"
        f"print(json.dumps(Job.objects.get(id='{job_id}').params['lora']))")).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [{"model": "local:ohwx@1", "weight": 1.0}]


def test_the_panel_in_the_dark_theme_and_removing_a_lora(browser, live_server_process, tmp_path):
    live_server_process.manage("shell", "-c", ADD_LORAS)
    page = sign_in_as(browser, live_server_process.url, "bob", theme="dark")
    try:
        page.goto("/create/text-to-image/")
        page.select_option("#lora", "local:ohwx@1")
        page.click("#lora-add")
        page.locator("#addons-panel").screenshot(path=str(tmp_path / "addons-dark.png"))
        page.get_by_role("button", name="Remove Ohwx person").click()
        assert page.locator(".lora-row").count() == 0
        assert page.evaluate("document.activeElement.id") == "lora"
    finally:
        page.context.close()
