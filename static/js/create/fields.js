// Small fields of the form: the prompt's character count and the random-seed button.

import { $ } from "./dom.js";

export function setupFields(page) {
  const { el } = page;
  $("seed-random")?.addEventListener("click", () => { el.seed.value = ""; el.seed.focus(); });
  if (el.prompt && el.promptCount) {
    const count = () => { el.promptCount.textContent = `${el.prompt.value.length} / 3000`; };
    el.prompt.addEventListener("input", count);
    count();
  }
}
