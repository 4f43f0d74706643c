// The second pass: the hires fix and the SDXL refiner on text to image, "upscale" on image to image.
// Their step counts come from steps.js's jobPlan (the mirror of generation/steps.py::job_plan), so the
// counter above Generate says what the worker will run: "40 steps: 30 base + 10 hires".

import { refinerStart, upscaledSize } from "../steps.js";
import { $, readInt } from "./dom.js";

const REFINER_SHARE = 0.8; // where the refiner takes over when the user has not said: SDXL's usual 80/20

export function setupSecondPass(page) {
  const { el } = page;
  const hires = { upscale: $("hiresUpscale"), strength: $("hiresStrength"), steps: $("hiresSteps"), settings: $("hires-settings"), size: $("hires-size") };
  const refiner = { model: $("refinerModel"), start: $("refinerStartStep"), field: $("refiner-field"), startField: $("refiner-start-field") };
  const upscale = { select: $("upscale"), size: $("upscale-size") };

  function refinerOn(model) {
    return Boolean(refiner.model && refiner.model.value && model.family === "sdxl");
  }

  /** jobPlan's arguments for the form's second pass, given the model and the steps. */
  function planArgs(model, steps) {
    if (refinerOn(model)) {
      const start = readInt(refiner.start, NaN);
      return { refinerStartStep: Number.isFinite(start) ? start : refinerStart({ steps, startPercentage: REFINER_SHARE * 100 }) };
    }
    if (hires.upscale && hires.upscale.value) {
      const strength = parseFloat(hires.strength.value);
      return { hiresSteps: readInt(hires.steps, steps), hiresStrength: Number.isFinite(strength) ? strength : 0.5 };
    }
    return {};
  }

  /** The hires fix's upscale factor as the form sends it ("" when off). */
  function hiresUpscale() {
    return hires.upscale ? hires.upscale.value : "";
  }

  /** Show what applies to this model, and the sizes the second pass makes. */
  function update(model, steps) {
    if (refiner.field) {
      const sdxl = model.family === "sdxl";
      refiner.field.hidden = !sdxl;
      refiner.model.disabled = !sdxl; // a disabled select is not sent: no refiner on other models
      refiner.startField.hidden = !refinerOn(model);
      refiner.start.disabled = !refinerOn(model);
      refiner.start.max = Math.max(steps - 1, 1);
      if (refinerOn(model) && !refiner.start.value) refiner.start.placeholder = String(refinerStart({ steps, startPercentage: REFINER_SHARE * 100 }));
    }
    if (hires.upscale) {
      const on = Boolean(hires.upscale.value);
      hires.settings.hidden = !on;
      const width = readInt(el.width, 0);
      const height = readInt(el.height, 0);
      if (on && width && height) {
        const [w, h] = upscaledSize(width, height, { upscale: hires.upscale.value, multiple: model.sizeMultiple });
        hires.size.textContent = `${width} × ${height} → ${w} × ${h}`;
        hires.size.classList.toggle("too-big", w > model.maxSize || h > model.maxSize);
      } else {
        hires.size.textContent = "";
      }
    }
    if (upscale.select) {
      const on = Boolean(upscale.select.value);
      // The upscaled size follows from the source: the size inputs are off (and not sent) meanwhile.
      for (const input of [el.width, el.height]) if (input) input.disabled = on;
      const source = page.source;
      if (on && source.width && source.height) {
        const [w, h] = upscaledSize(source.width, source.height, { upscale: upscale.select.value, multiple: model.sizeMultiple });
        upscale.size.textContent = `${source.width} × ${source.height} → ${w} × ${h}`;
      } else {
        upscale.size.textContent = "";
      }
    }
  }

  /** A sentence for the plan's caption about the second pass, or "". */
  function caption(plan, model) {
    const second = plan.passes[1];
    if (!second) return "";
    if (second.name === "refiner") {
      const label = refiner.model.selectedOptions[0]?.textContent || "the refiner";
      return `Then ${label} runs steps ${second.firstStep}-${second.requested} of the same schedule.`;
    }
    return `Then the hires fix upscales ×${hires.upscale.value} and runs ${second.steps} of ${second.requested} steps of image to image over it (strength ${hires.strength.value || "0.5"}).`;
  }

  /** Restore a PNG's hires fix or refiner (values from pngmeta.js); returns notes on what could not be. */
  function apply(values) {
    const notes = [];
    if (values.hiresFix && hires.upscale) {
      const factor = String(values.hiresFix.upscale);
      if ([...hires.upscale.options].some((o) => o.value === factor)) {
        hires.upscale.value = factor;
        if (values.hiresFix.strength !== undefined) hires.strength.value = values.hiresFix.strength;
        hires.steps.value = values.hiresFix.steps ?? "";
        $("second-pass").open = true;
      } else {
        notes.push(`Its hires fix upscaled ×${factor}; this server offers 1.5× and 2×, so the hires fix stays off.`);
      }
    }
    if (values.refiner) {
      const known = refiner.model && [...refiner.model.options].some((o) => o.value === values.refiner.model);
      if (known) {
        refiner.model.value = values.refiner.model;
        refiner.start.value = values.refiner.startStep ?? "";
        $("second-pass").open = true;
      } else {
        notes.push(`Its refiner ${values.refiner.model} is not available to you, so the refiner stays off.`);
      }
    }
    return notes;
  }

  for (const input of [hires.upscale, hires.strength, hires.steps, refiner.model, refiner.start, upscale.select]) {
    input?.addEventListener("input", () => page.update());
    input?.addEventListener("change", () => page.update());
  }
  return { planArgs, hiresUpscale, update, caption, apply };
}
