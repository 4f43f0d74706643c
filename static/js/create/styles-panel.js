// Saved styles on the create form: one click applies a style to the prompt and the negative prompt
// (the rule is in ../styles.js); the current prompts can be saved as a new style, private or for the
// team; the user's own styles can be deleted. The list comes from the page (json_script).

import { applyStyle } from "../styles.js";
import { $, readJson } from "./dom.js";

export function setupStyles(page) {
  const panel = $("styles-picker");
  if (!panel) return;
  const list = $("styles-list");
  const empty = $("styles-empty");
  const count = $("styles-count");
  const status = $("styles-status");
  const negative = $("negativePrompt");
  const csrf = page.form.elements.csrfmiddlewaretoken.value;
  let styles = readJson("styles-data");

  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("field-error", isError);
  }

  function render() {
    list.replaceChildren(...styles.map((style) => {
      const item = document.createElement("li");
      item.className = "style-item";
      const apply = document.createElement("button");
      apply.type = "button";
      apply.className = "chip style-apply";
      apply.textContent = style.name;
      apply.title = [style.positive && `Prompt: ${style.positive}`, style.negative && `Negative: ${style.negative}`]
        .filter(Boolean).join("\n");
      apply.addEventListener("click", () => {
        page.el.prompt.value = applyStyle(page.el.prompt.value, style.positive);
        page.el.prompt.dispatchEvent(new Event("input", { bubbles: true }));
        if (style.negative) negative.value = applyStyle(negative.value, style.negative);
        say(`Applied ${style.name}.`);
      });
      const owner = document.createElement("span");
      owner.className = "style-owner subtle small";
      owner.textContent = style.mine ? (style.shared ? "team" : "private") : style.owner;
      item.append(apply, owner);
      if (style.mine) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "icon-btn style-delete";
        remove.setAttribute("aria-label", `Delete the style ${style.name}`);
        remove.title = `Delete the style ${style.name}`;
        remove.textContent = "×";
        remove.addEventListener("click", () => deleteStyle(style));
        item.append(remove);
      }
      return item;
    }));
    empty.hidden = styles.length > 0;
    count.textContent = `(${styles.length})`;
  }

  async function post(url, fields) {
    const body = new FormData();
    body.append("csrfmiddlewaretoken", csrf);
    for (const [name, value] of Object.entries(fields)) body.append(name, value);
    const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `The server said ${response.status}.`);
    return data;
  }

  async function deleteStyle(style) {
    try {
      await post(style.deleteUrl, {});
      styles = styles.filter((s) => s.id !== style.id);
      render();
      say(`Deleted ${style.name}.`);
    } catch (error) {
      say(error.message, true);
    }
  }

  $("style-save").addEventListener("click", async () => {
    const name = $("style-name");
    try {
      const { style } = await post(panel.dataset.saveUrl, {
        name: name.value, positive: page.el.prompt.value, negative: negative.value,
        visibility: $("style-shared").checked ? "team" : "private",
      });
      styles = [...styles, style].sort((a, b) => a.name.localeCompare(b.name));
      render();
      name.value = "";
      say(`Saved ${style.name}.`);
    } catch (error) {
      say(error.message, true);
      name.focus();
    }
  });
  $("style-name").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { // saves the style, not the create form
      event.preventDefault();
      $("style-save").click();
    }
  });
  render();
}
