"""Shared Playwright helpers: Debian's Chromium, signed in as one of the live server's users."""

from pathlib import Path

from tests.live import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and no background networking: this machine's network is closed.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def watch_errors(page, errors: list, *, label: str = "") -> None:
    """Collect the page's uncaught errors and every Content Security Policy violation Chromium reports
    (a refused inline script or style shows only in the console)."""
    page.on("pageerror", lambda exc: errors.append(f"{label}: {exc}"))
    page.on("console", lambda message: errors.append(f"{label}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text else None)


def sign_in(browser, base_url, username, *, viewport=None, theme=None, errors=None):
    """A page in a browser context of its own, logged in as `username` through the login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport or {"width": 1280, "height": 900},
                                  accept_downloads=True)
    if theme:
        # app.js and base.html read the stored theme before the first paint.
        context.add_init_script(f"localStorage.setItem('stepwise-theme', '{theme}')")
    page = context.new_page()
    if errors is not None:
        watch_errors(page, errors, label=username)
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")
    return page
