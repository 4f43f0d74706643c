// Small fields of the form: the prompt's character count, the prompt history, the random-seed button
// and the Variations switch.

import { $, setValue } from "./dom.js";

export function setupFields(page) {
  const { el } = page;
  $("seed-random")?.addEventListener("click", () => { el.seed.value = ""; el.seed.focus(); });
  if (el.prompt && el.promptCount) {
    const count = () => { el.promptCount.textContent = `${el.prompt.value.length} / 3000`; };
    el.prompt.addEventListener("input", count);
    count();
  }
  // Variations: the switch shows its two fields; the slider and the number move together.
  const variations = $("variations");
  if (variations) {
    const body = $("variations-body");
    variations.addEventListener("change", () => { body.hidden = !variations.checked; });
    const range = $("variationStrength-range");
    const input = $("variationStrength");
    range.addEventListener("input", () => { input.value = Number(range.value).toFixed(2); });
    input.addEventListener("input", () => {
      const value = parseFloat(input.value);
      if (Number.isFinite(value) && value >= 0 && value <= 1) setValue(input, range, input.value);
    });
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
