// The add-ons panel: LoRAs (one row each, with a weight slider and its trigger words), embeddings,
// the VAE, clip skip and prompt weighting. Only add-ons made for the chosen model's family are
// offered; the server checks again and names any that do not fit.

import { paintRange } from "../app.js";
import { $, escapeHtml, readJson } from "./dom.js";

const CLIP_FAMILIES = ["sd15", "sdxl"];
const WEIGHT_MIN = -4;
const WEIGHT_MAX = 4;

/** Put `text` into a textarea at the cursor, with a comma separating it from what is there. */
export function insertWord(textarea, text) {
  const start = textarea.selectionStart ?? textarea.value.length;
  const end = textarea.selectionEnd ?? start;
  const before = textarea.value.slice(0, start).replace(/\s+$/, "");
  const after = textarea.value.slice(end);
  const glue = before && !before.endsWith(",") ? ", " : before ? " " : "";
  const insert = glue + text + (after && !/^\s*,/.test(after) ? ", " : "");
  textarea.value = before + insert + after.replace(/^\s+/, "");
  const caret = (before + insert).length;
  textarea.setSelectionRange(caret, caret);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

export function setupAddons(page, { pickers }) {
  const data = readJson("addons-data");
  const byAir = Object.fromEntries(data.loras.map((lora) => [lora.air, lora]));
  const select = $("lora");
  const list = $("lora-list");
  const prompt = page.el.prompt;

  function family() {
    return pickers.currentModel()?.family;
  }

  function addRow(air, weight) {
    const lora = byAir[air];
    if (!lora || list.querySelector(`[data-air="${CSS.escape(air)}"]`)) return null;
    const id = `lora-weight-${list.children.length}-${Date.now() % 100000}`;
    const row = document.createElement("li");
    row.className = "lora-row";
    row.dataset.air = air;
    row.dataset.family = lora.family;
    const value = weight ?? lora.defaultWeight;
    const words = lora.triggerWords.map((word) =>
      `<button type="button" class="chip" data-trigger="${escapeHtml(word)}" title="Insert into the prompt">${escapeHtml(word)}</button>`).join("");
    row.innerHTML = `
      <div class="lora-head">
        <label class="lora-name" for="${id}">${escapeHtml(lora.name)} <span class="hint">${escapeHtml(lora.architectureLabel)}</span></label>
        <button type="button" class="icon-btn" data-remove aria-label="Remove ${escapeHtml(lora.name)}">×</button>
      </div>
      <input type="hidden" name="loraModel" value="${escapeHtml(air)}">
      <div class="slider-row">
        <input type="range" min="${WEIGHT_MIN}" max="${WEIGHT_MAX}" step="0.05" value="${escapeHtml(value)}" aria-label="${escapeHtml(lora.name)} weight (slider)" data-weight-range>
        <input class="input input-num" type="number" id="${id}" name="loraWeight" min="${WEIGHT_MIN}" max="${WEIGHT_MAX}" step="0.05" inputmode="decimal" value="${escapeHtml(value)}" data-weight>
      </div>
      <p class="lora-fit field-error" hidden></p>
      ${words ? `<div class="chips lora-triggers" role="group" aria-label="Trigger words of ${escapeHtml(lora.name)}">${words}</div>` : ""}`;
    const range = row.querySelector("[data-weight-range]");
    const number = row.querySelector("[data-weight]");
    range.addEventListener("input", () => { number.value = range.value; paintRange(range); });
    number.addEventListener("input", () => { range.value = number.value; paintRange(range); });
    row.querySelector("[data-remove]").addEventListener("click", () => {
      row.remove();
      select?.focus();
    });
    row.querySelectorAll("[data-trigger]").forEach((button) => {
      button.addEventListener("click", () => insertWord(prompt, button.dataset.trigger));
    });
    list.append(row);
    paintRange(range);
    return row;
  }

  function filter() {
    const current = family();
    select?.querySelectorAll("option[data-family]").forEach((option) => {
      option.hidden = option.disabled = option.dataset.family !== current;
    });
    $("vae")?.querySelectorAll("option[data-family]").forEach((option) => {
      option.hidden = option.disabled = option.dataset.family !== current;
      if (option.disabled && option.selected) $("vae").value = "";
    });
    document.querySelectorAll("#embeddings [data-family]").forEach((label) => {
      label.hidden = label.dataset.family !== current;
    });
    // A LoRA already added for another family stays, marked: the server would refuse it by name.
    const model = pickers.currentModel();
    list.querySelectorAll(".lora-row").forEach((row) => {
      const note = row.querySelector(".lora-fit");
      note.hidden = row.dataset.family === current;
      note.textContent = note.hidden ? "" : `Made for another architecture than ${model?.architectureLabel || "this model"}: remove it.`;
    });
    const clip = CLIP_FAMILIES.includes(current);
    for (const input of [$("clipSkip"), $("promptWeighting")]) {
      if (!input) continue;
      input.disabled = !clip;
      if (!clip) input.type === "checkbox" ? (input.checked = false) : (input.value = "0");
    }
  }

  $("lora-add")?.addEventListener("click", () => {
    if (!select.value) return;
    const row = addRow(select.value);
    select.value = "";
    row?.querySelector("[data-weight]").focus();
  });
  select?.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      $("lora-add").click();
    }
  });
  /**
   * Fill the panel from a PNG's parameters (png-params.js); returns notes on what is not available.
   * Stepwise's chunk names add-ons by AIR id; AUTOMATIC1111's text by name (the AIR id's name part).
   */
  function apply(values) {
    const notes = [];
    const airName = (air) => air.split(":").pop().split("@")[0];
    const byName = (name) => data.loras.find((lora) => airName(lora.air) === name || lora.name === name);
    const wanted = values.lora
      ?? values.loraNames?.map(({ name, weight }) => ({ model: byName(name)?.air, name, weight }));
    if (wanted) {
      list.replaceChildren();
      for (const lora of wanted) {
        if (lora.model && byAir[lora.model]) addRow(lora.model, lora.weight);
        else notes.push(`The LoRA ${lora.model || lora.name} is not available to you.`);
      }
    }
    if (values.embeddings) {
      document.querySelectorAll('#embeddings input[name="embeddings"]').forEach((box) => {
        box.checked = values.embeddings.includes(box.value);
      });
    }
    const vae = $("vae");
    const vaeOption = vae && [...vae.options].find((option) =>
      option.value && (option.value === values.vae || (values.vaeName && airName(option.value) === values.vaeName)));
    if (vaeOption) vae.value = vaeOption.value;
    else if (values.vae || values.vaeName) notes.push(`The VAE ${values.vae || values.vaeName} is not available to you.`);
    if (values.clipSkip !== undefined && $("clipSkip")) $("clipSkip").value = String(values.clipSkip);
    if ($("promptWeighting")) $("promptWeighting").checked = Boolean(values.promptWeighting);
    if (values.maskMargin !== undefined && $("maskMargin")) $("maskMargin").value = values.maskMargin;
    filter();
    return notes;
  }

  page.el.model.addEventListener("change", filter);
  for (const lora of data.initialLoras) addRow(lora.model, lora.weight);
  filter();
  return { addRow, apply, filter };
}
