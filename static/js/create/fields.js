// Small fields of the form: the prompt's character count, the prompt history and the random-seed button.

import { $ } from "./dom.js";

export function setupFields(page) {
  const { el } = page;
  $("seed-random")?.addEventListener("click", () => { el.seed.value = ""; el.seed.focus(); });
  if (el.prompt && el.promptCount) {
    const count = () => { el.promptCount.textContent = `${el.prompt.value.length} / 3000`; };
    el.prompt.addEventListener("input", count);
    count();
  }
  // Prompt history: a recent prompt replaces the prompt, and the list closes.
  const history = $("prompt-history");
  history?.addEventListener("click", (event) => {
    const item = event.target.closest("[data-prompt]");
    if (!item) return;
    el.prompt.value = item.dataset.prompt;
    el.prompt.dispatchEvent(new Event("input", { bubbles: true }));
    history.open = false;
    el.prompt.focus();
  });
}
