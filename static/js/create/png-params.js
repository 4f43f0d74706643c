// Parameters carried by a PNG. A PNG made by Stepwise (or AUTOMATIC1111) carries the parameters that
// made it. When one becomes the source of an image task, or is dropped on the text-to-image page,
// offer to fill the form in.

import { describeParameters, pngParameters } from "../pngmeta.js";
import { $, setValue } from "./dom.js";

export function setupPngParams(page, { pickers, source, addons, secondPass }) {
  const { el, modelsByAir, imageTask } = page;
  const slot = $("png-params");
  const template = $("png-params-template");
  let token = 0;

  /** Fill the form from a PNG's values; returns notes on what could not be used. */
  function apply(values) {
    const notes = [];
    // 1. The model first: its family decides which schedulers exist, and choosing it resets defaults.
    if (values.model && values.model !== el.model.value) {
      if (modelsByAir[values.model]) {
        el.model.value = values.model;
        pickers.modelChanged();
      } else {
        notes.push(`The model ${values.model} is not available to you, so ${pickers.currentModel().name} stays selected.`);
      }
    } else if (!values.model && values.modelName && values.modelName !== pickers.currentModel().name) {
      notes.push(`It was made with ${values.modelName}; the model stays ${pickers.currentModel().name}.`);
    }
    // 2. Prompts and numbers. Fields the PNG does not carry keep what the form has.
    if (values.positivePrompt !== undefined) {
      el.prompt.value = values.positivePrompt;
      el.prompt.dispatchEvent(new Event("input")); // the character count
    }
    if (values.negativePrompt !== undefined) $("negativePrompt").value = values.negativePrompt;
    if (values.steps >= 1 && values.steps <= 100) setValue(el.steps, el.stepsRange, values.steps);
    if (values.CFGScale !== undefined) el.cfg.value = values.CFGScale;
    if (values.seed !== undefined) el.seed.value = values.seed;
    if (values.scheduler) {
      const name = pickers.canonicalScheduler(pickers.currentModel(), values.scheduler);
      if (name) el.scheduler.value = name;
      else notes.push(`This model has no ${values.scheduler} scheduler, so ${el.scheduler.value} stays selected.`);
    }
    // 3. Size only on text to image: the image tasks keep the size of their source.
    if (!imageTask && el.width && values.width && values.height) {
      el.width.value = values.width;
      el.height.value = values.height;
    }
    if (imageTask && el.strength && values.strength >= 0 && values.strength <= 1) {
      setValue(el.strength, el.strengthRange, values.strength.toFixed(2));
    }
    // Variations (text to image): the switch goes on with the PNG's variation seed and strength.
    const variations = $("variations");
    if (variations && values.variationStrength > 0 && values.variationStrength <= 1 && values.variationSeed) {
      variations.checked = true;
      variations.dispatchEvent(new Event("change"));
      setValue($("variationStrength"), $("variationStrength-range"), values.variationStrength.toFixed(2));
      $("variationSeed").value = values.variationSeed;
    }
    // 4. Add-ons: LoRAs with their weights, embeddings, the VAE, clip skip, weighting.
    notes.push(...addons.apply(values));
    // 5. The second pass of text to image: the hires fix, the SDXL refiner.
    if (!imageTask) notes.push(...secondPass.apply(values));
    pickers.renderSchedulerInfo(pickers.currentScheduler());
    pickers.renderPresets(pickers.currentModel());
    page.update();
    return notes;
  }

  function showNotice(kind, text, prompt = "") {
    const notice = template.content.firstElementChild.cloneNode(true);
    setNotice(notice, kind, text);
    notice.querySelector(".png-params-prompt").textContent = prompt ? `“${prompt}”` : "";
    notice.querySelector(".png-params-prompt").hidden = !prompt;
    notice.querySelector('[data-png-params="dismiss"]').addEventListener("click", () => dismissNotice(notice));
    notice.addEventListener("keydown", (event) => { if (event.key === "Escape") dismissNotice(notice); });
    slot.replaceChildren(notice);
    return notice;
  }

  function setNotice(notice, kind, text) {
    // kind: "offer" (with the Reuse button), "done" (filled in) or "none" (nothing found).
    notice.className = `alert png-params ${kind === "done" ? "alert-ok" : kind === "none" ? "alert-warn" : "alert-info"}`;
    notice.dataset.state = kind;
    notice.querySelector('[data-png-params-icon="offer"]').hidden = kind === "done";
    notice.querySelector('[data-png-params-icon="done"]').hidden = kind !== "done";
    notice.querySelector(".png-params-actions").hidden = kind !== "offer";
    notice.querySelector(".png-params-text").textContent = text;
  }

  function dismissNotice(notice) {
    const hadFocus = notice.contains(document.activeElement);
    notice.remove();
    // Focus would fall back to the page's start: put it where the file came from instead.
    if (hadFocus) (source ? source.focusTarget() : el.prompt).focus();
  }

  /** Read a PNG's parameters and offer them; `sayWhenNone` also says when there are none. */
  async function offer(file, { sayWhenNone = false } = {}) {
    const mine = ++token;
    slot.replaceChildren();
    if (!file) return;
    let found = null;
    try {
      found = await pngParameters(file);
    } catch { /* an unreadable file: the server says what is wrong with it on submit */ }
    if (mine !== token) return; // another file was chosen meanwhile
    if (!found) {
      if (sayWhenNone) showNotice("none", `${file.name || "This image"} carries no generation parameters (it is not a PNG from Stepwise or AUTOMATIC1111).`);
      return;
    }
    const summary = describeParameters(found.values);
    const notice = showNotice("offer", `This image carries its generation parameters (${summary}). Reuse them?`,
      found.values.positivePrompt);
    notice.querySelector('[data-png-params="apply"]').addEventListener("click", () => {
      const notes = apply(found.values);
      setNotice(notice, "done", [`Filled in from this image: ${summary}.`, ...notes].join(" "));
      notice.querySelector(".png-params-text").focus(); // the button is gone; read out what happened
    });
  }

  if (!imageTask) {
    const paramsFile = $("params-file");
    paramsFile.addEventListener("change", () => {
      offer(paramsFile.files[0], { sayWhenNone: true });
      paramsFile.value = ""; // picking the same file again offers again
    });
    // Dropping a file anywhere on the page reads it instead of letting the browser open it.
    const overlay = $("drop-overlay");
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    document.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      overlay.hidden = false;
    });
    document.addEventListener("dragleave", (event) => { if (!event.relatedTarget) overlay.hidden = true; });
    document.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      overlay.hidden = true;
      offer(event.dataTransfer.files[0], { sayWhenNone: true });
    });
  }

  return { offer };
}
