"""Keyboard and contrast checks in Debian's Chromium, against a real `manage.py serve`.

- Tab alone reaches every control of each create form, in document order, each with a focus
  indicator you can see (the pixels around it change when it gets focus).
- Escape closes the account menu and the delete confirmation, and focus goes back to their button.
- Text meets WCAG AA contrast (4.5:1, 3:1 when large) on the main pages, in the light and dark themes.
"""

import io

import pytest
from PIL import Image as PILImage

from tests.browser import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def alice(browser, live_server_process):
    errors: list[str] = []
    page = sign_in_as(browser, live_server_process.url, "alice", errors=errors)  # CSP violations included
    yield page
    page.context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def alice_job(browser, live_server_process):
    """One finished job of alice's (3 steps, 128 x 128): {"job": url, "image": url}."""
    from playwright.sync_api import expect

    page = sign_in_as(browser, live_server_process.url, "alice")
    try:
        page.goto("/create/text-to-image/")
        page.fill("#positivePrompt", "a quiet reading room, keyboard only")
        page.fill("#steps", "3")
        page.fill("#width", "128")
        page.fill("#height", "128")
        page.click("#submit")
        page.wait_for_url("**/jobs/*/")
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=120_000)
        job = page.url.removeprefix(live_server_process.url)
        image = page.locator("a:has([data-testid=result-image])").first.get_attribute("href")
    finally:
        page.context.close()
    return {"job": job, "image": image}


def _png(path, width=96, height=64):
    PILImage.new("RGB", (width, height), (90, 120, 200)).save(path)
    return str(path)


# Keyboard ---------------------------------------------------------------------------------------

ACTIVE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  window.lastFocused = el;
  // A visually hidden input shows its focus on its label or drop zone: look at the first box you can see.
  let box = el;
  while (box.parentElement
         && (box.getBoundingClientRect().width < 4 || box.getBoundingClientRect().height < 4)) box = box.parentElement;
  const r = box.getBoundingClientRect();
  const key = el.type === "radio" ? `radio:${el.name}`
    : el.id || el.getAttribute("aria-label") || el.textContent.trim();
  return { key, inForm: Boolean(el.closest("#create-form")),
           box: { x: r.x, y: r.y, width: r.width, height: r.height } };
}"""
# A closed <details> keeps layout boxes for its content in this Chromium (content-visibility), but
# Tab skips all of it except its summary.
CONTROLS = """() => {
  const insideClosedDetails = (el) => {
    const details = el.closest("details:not([open])");
    return Boolean(details) && !details.querySelector(":scope > summary")?.contains(el);
  };
  return [...document.querySelectorAll(
  '#create-form :is(input, select, textarea, button, a[href], summary)')]
  .filter((el) => el.type !== "hidden" && !el.disabled && el.tabIndex >= 0 && el.getClientRects().length
    && getComputedStyle(el).visibility !== "hidden" && !insideClosedDetails(el))
  .map((el) => el.type === "radio" ? `radio:${el.name}`
    : el.id || el.getAttribute("aria-label") || el.textContent.trim())
  .filter((key, i, all) => all.indexOf(key) === i);
}"""


def _focus_visible(page, box):
    """Whether the focused control looks different from the same control without focus."""
    margin = 6
    clip = {"x": max(0, box["x"] - margin), "y": max(0, box["y"] - margin),
            "width": box["width"] + 2 * margin, "height": box["height"] + 2 * margin}
    focused = page.screenshot(clip=clip, animations="disabled", caret="hide")
    page.evaluate("document.activeElement.blur()")
    unfocused = page.screenshot(clip=clip, animations="disabled", caret="hide")
    page.evaluate("window.lastFocused.focus()")  # Tab goes on from here
    return focused != unfocused


@pytest.mark.parametrize("task", ["text-to-image", "image-to-image", "inpainting", "outpainting"])
def test_tab_reaches_every_control_of_the_create_form_with_a_visible_focus(alice, task, tmp_path):
    from playwright.sync_api import expect

    alice.goto(f"/create/{task}/")
    if task != "text-to-image":
        # With a source chosen, the mask tools or the outpaint sides are there too.
        alice.set_input_files("#seedImage", _png(tmp_path / "source.png"))
        expect(alice.locator("#source-size")).to_have_text("Source 96 × 64")
    positive_tabindex = "document.querySelectorAll('[tabindex]:not([tabindex=\"-1\"]):not([tabindex=\"0\"])').length"
    assert alice.evaluate(positive_tabindex) == 0
    expected = alice.evaluate(CONTROLS)
    alice.locator("#positivePrompt").focus()
    alice.keyboard.press("Shift+Tab")  # start just before the form, as someone tabbing down the page would

    reached, invisible = [], []
    for _ in range(len(expected) + 5):
        alice.keyboard.press("Tab")
        active = alice.evaluate(ACTIVE)
        if active is None or not active["inForm"]:
            break
        reached.append(active["key"])
        if not _focus_visible(alice, active["box"]):
            invisible.append(active["key"])

    assert reached == expected  # every control, in document order, and out of the form at the end
    assert not invisible, f"no visible focus on {invisible}"


def test_escape_closes_the_account_menu_and_returns_focus(alice):
    from playwright.sync_api import expect

    alice.goto("/gallery/")
    menu = alice.locator("details[data-menu]")
    summary = menu.locator("summary")
    summary.focus()
    alice.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    alice.keyboard.press("Tab")
    expect(menu.locator(".menu-panel :focus")).to_have_count(1)  # Tab goes into the menu
    alice.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()


def test_escape_closes_the_delete_confirmation_and_nothing_is_deleted(alice, alice_job):
    from playwright.sync_api import expect

    alice.goto(alice_job["image"])
    confirm = alice.locator("details[data-confirm]")
    summary = confirm.locator("summary")
    summary.focus()
    alice.keyboard.press("Enter")
    expect(confirm).to_have_attribute("open", "")
    expect(alice.get_by_role("button", name="Keep it")).to_be_focused()  # the safe choice, not "Delete"
    alice.keyboard.press("Escape")
    expect(confirm).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    summary.focus()
    alice.keyboard.press("Enter")
    alice.keyboard.press("Enter")  # on "Keep it"
    expect(confirm).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    alice.reload()
    expect(alice.get_by_test_id("full-image")).to_be_visible()


# Contrast -------------------------------------------------------------------------------------------

LOW_CONTRAST = """() => {
  const parse = (color) => {
    const srgb = color.match(/color\\(srgb ([^)]+)\\)/);
    if (srgb) {
      const p = srgb[1].replace("/", " ").split(/\\s+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p[3] ?? 1];
    }
    const rgb = color.match(/rgba?\\(([^)]+)\\)/);
    if (!rgb) return null;
    const p = rgb[1].split(/[,\\s/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p[3] ?? 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  // The colour behind an element: its own and its ancestors' backgrounds, stacked. null over an image.
  const background = (el) => {
    const layers = [];
    // A covered phase segment's label sits on the coloured bar, a sibling, not on the segment.
    const bar = el.closest(".phase-seg.covered:not(.partial)")?.querySelector(".phase-run");
    if (bar) layers.push(parse(getComputedStyle(bar).backgroundColor));
    for (let e = el; e && !bar; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage !== "none" && !e.matches(".select")) return null;
      const color = parse(style.backgroundColor);
      if (color && color[3] > 0) { layers.push(color); if (color[3] === 1) break; }
    }
    let result = parse(getComputedStyle(document.body).backgroundColor);
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    // Not shown, visually hidden, disabled (exempt), or white text on a dark badge over an image.
    if (!el.getClientRects().length || style.visibility === "hidden") continue;
    if (el.closest(".visually-hidden, [disabled], .tile-badges, .result-meta, .picker-item")) continue;
    const behind = background(el);
    if (!behind) continue;
    const [a, b] = [luminance(over(parse(style.color), behind)), luminance(behind)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = walker.currentNode.textContent.trim().slice(0, 40);
      problems.push(`${ratio.toFixed(2)}:1 ${el.tagName.toLowerCase()}.${el.className} "${text}"`);
    }
  }
  return problems;
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_has_enough_contrast(browser, live_server_process, alice_job, theme, tmp_path):
    from playwright.sync_api import expect

    page = sign_in_as(browser, live_server_process.url, "alice", theme=theme)
    try:
        problems = {}
        for path in ["/", "/create/text-to-image/", "/create/inpainting/", "/gallery/", "/jobs/", alice_job["job"],
                     alice_job["image"], "/account/", "/guide/", "/boards/"]:
            page.goto(path)
            problems[path] = page.evaluate(LOW_CONTRAST)
        # The "reuse its parameters" notice, offered and then done.
        png = page.request.get(alice_job["image"].replace("/images/", "/files/images/") + "download/").body()
        (tmp_path / "made.png").write_bytes(png)
        page.goto("/create/image-to-image/")
        page.set_input_files("#seedImage", str(tmp_path / "made.png"))
        expect(page.get_by_test_id("png-params")).to_be_visible()
        problems["offer"] = page.evaluate(LOW_CONTRAST)
        page.get_by_role("button", name="Reuse them").click()
        problems["done"] = page.evaluate(LOW_CONTRAST)
        assert PILImage.open(io.BytesIO(png)).format == "PNG"
    finally:
        page.context.close()
    assert not {path: found for path, found in problems.items() if found}
