// Every page: theme toggle, menus, keyboard shortcuts, message dismissal, relative times, copy buttons.

const THEME_KEY = "stepwise-theme";
const THEMES = ["system", "light", "dark"];

function currentTheme() {
  try {
    const stored = localStorage.getItem(THEME_KEY);
    return THEMES.includes(stored) ? stored : "system";
  } catch {
    return "system";
  }
}

function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  for (const button of document.querySelectorAll("[data-theme-toggle]")) {
    const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    const label = `Theme: ${theme} (switch to ${next})`;
    button.setAttribute("aria-label", label);
    button.title = label;
    for (const icon of button.querySelectorAll("[data-theme-icon]")) icon.hidden = icon.dataset.themeIcon !== theme;
  }
}

applyTheme(currentTheme());
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-theme-toggle]");
  if (!toggle) return;
  const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
  try {
    if (next === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
  } catch { /* private mode: the toggle still works for this page */ }
  applyTheme(next);
});

// Menus (<details data-menu>): close on Escape and on a click outside.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details[data-menu][open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details[data-menu][open]")) {
    menu.open = false;
    menu.querySelector("summary")?.focus();
  }
});

// Confirmations (<details data-confirm>, e.g. "Delete image…"): the summary hides while open, so
// focus moves to the safe choice ([data-confirm-cancel]); cancel or Escape closes and returns it.
function closeConfirm(box) {
  box.open = false;
  box.querySelector("summary")?.focus();
}
document.addEventListener("toggle", (event) => {
  const box = event.target;
  if (box.matches?.("details[data-confirm]") && box.open) box.querySelector("[data-confirm-cancel]")?.focus();
}, true); // toggle does not bubble
document.addEventListener("click", (event) => {
  const cancel = event.target.closest("[data-confirm-cancel]");
  if (cancel) closeConfirm(cancel.closest("details[data-confirm]"));
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const box of document.querySelectorAll("details[data-confirm][open]")) closeConfirm(box);
});

// Ctrl/Cmd+Enter submits the form marked data-submit-shortcut (the generate form), and so does Enter
// in one of its single-line fields. The browser's own Enter would press the first submit button in
// the page's order, which is "Compare steps" in its panel: a panel marked data-submit-scope keeps
// Enter for its own button, and everywhere else the form's data-primary-submit button runs. A field
// that handles Enter itself (the style name saves the style) prevents the default, and keeps it.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.isComposing || event.defaultPrevented) return;
  const withModifier = event.ctrlKey || event.metaKey;
  const target = event.target;
  const inForm = target.closest?.("form[data-submit-shortcut]");
  const singleLine = target instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit", "file"].includes(target.type);
  if (!withModifier && !(inForm && singleLine)) return;
  const form = inForm || document.querySelector("form[data-submit-shortcut]");
  if (!form) return;
  event.preventDefault();
  const scope = withModifier ? null : target.closest("[data-submit-scope]");
  const submit = (scope || form).querySelector(scope ? "[type=submit]:not([disabled])" : "[data-primary-submit]:not([disabled])")
    || form.querySelector("[type=submit]:not([disabled])");
  if (submit) form.requestSubmit(submit);
});

// Dismissable messages.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-dismiss]");
  if (button) button.closest("li, .alert")?.remove();
});

// Copy buttons: data-copy="<css selector of the element whose text to copy>".
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.value ?? source.textContent);
    const label = button.querySelector("[data-copy-label]") || button;
    const before = label.textContent;
    label.textContent = "Copied";
    setTimeout(() => { label.textContent = before; }, 1400);
  } catch { /* clipboard blocked: the text stays selectable */ }
});

// <input data-select-on-focus>: the whole value is selected on focus (a new API key, ready to copy).
// A listener here rather than an onfocus attribute: the Content Security Policy refuses inline handlers.
document.addEventListener("focusin", (event) => {
  if (event.target.matches?.("input[data-select-on-focus]")) event.target.select();
});

// <form data-confirm-submit="question">: asks before submitting (not an inline onsubmit: the CSP refuses those).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirmSubmit;
  if (question && !window.confirm(question)) event.preventDefault();
});

// <time data-relative datetime="..."> shows "3 min ago", keeping the absolute time as a tooltip.
export function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll("time[data-relative]")) {
    const date = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    el.textContent = relativeTime(date);
    if (!el.title) el.title = date.toLocaleString();
  }
}
refreshTimes();
setInterval(refreshTimes, 30000);

// Range inputs paint their filled part (WebKit has no ::range-progress).
export function paintRange(input) {
  const min = Number(input.min || 0);
  const max = Number(input.max || 100);
  const pct = ((Number(input.value) - min) / (max - min)) * 100;
  input.style.setProperty("--fill", `${Math.max(0, Math.min(100, pct))}%`);
}
for (const input of document.querySelectorAll('input[type="range"]')) paintRange(input);
document.addEventListener("input", (event) => {
  if (event.target.matches?.('input[type="range"]')) paintRange(event.target);
});

// Keyboard shortcuts: an element with data-shortcut="<key>" is clicked (or focused, when it takes
// text) when that key is pressed outside a text field; "?" lists them (the dialog in base.html).
function takesKeys(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.matches("textarea, select")) return true;
  return el.matches("input") && !el.matches("[type=checkbox], [type=radio], [type=button], [type=submit]");
}

function usable(el) {
  return el && !el.disabled && el.getAttribute("aria-disabled") !== "true" && el.getClientRects().length > 0;
}

export function shortcutTarget(key) {
  const wanted = key.length === 1 ? key.toLowerCase() : key;
  for (const el of document.querySelectorAll("[data-shortcut]")) {
    const keys = el.dataset.shortcut.split(" ");
    const target = el.matches("details") ? el.querySelector("summary") : el;
    if (keys.includes(wanted) && usable(target)) return target;
  }
  return null;
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (takesKeys(event.target)) return; // typing, or a slider using its arrows
  if (document.querySelector("dialog[open]") && event.key !== "?") return;
  const dialog = document.getElementById("shortcuts");
  if (event.key === "?" && dialog) {
    event.preventDefault();
    if (dialog.open) dialog.close();
    else dialog.showModal();
    return;
  }
  const target = shortcutTarget(event.key);
  if (!target) return;
  event.preventDefault();
  if (takesKeys(target)) {
    target.focus();
    if (target.setSelectionRange && target.value) target.setSelectionRange(target.value.length, target.value.length);
  } else {
    target.click();
  }
});
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-shortcuts-open]")) document.getElementById("shortcuts")?.showModal();
  if (event.target.closest("[data-shortcuts-close]")) document.getElementById("shortcuts")?.close();
});
