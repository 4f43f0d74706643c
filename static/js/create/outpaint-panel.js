// Outpainting: how far to extend each side, and a preview of the new canvas around the source.

import { SIDES, drawOutpaint, outpaintProblems, outpaintSize, outpaintSizeText } from "../outpaint.js";
import { $ } from "./dom.js";

const inputFor = (side) => $(`outpaint${side[0].toUpperCase()}${side.slice(1)}`);

export function setupOutpaint(page, { pickers, bar }) {
  const { source } = page;
  const sizeText = $("outpaint-size");
  const blur = $("outpaintBlur");
  const blurOut = $("outpaintBlur-out");
  const canvas = $("outpaint-canvas");

  function extents() {
    return Object.fromEntries(SIDES.map((side) => [side, Number(inputFor(side).value || 0)]));
  }

  function update() {
    blurOut.textContent = `${blur.value} px`;
    const model = pickers.currentModel();
    const ext = extents();
    if (!source.image) {
      sizeText.textContent = "Choose a source image to see the new canvas.";
      return;
    }
    const size = outpaintSize({ sourceWidth: source.width, sourceHeight: source.height, ...ext, multiple: model.sizeMultiple });
    const problems = outpaintProblems(ext, size, model.maxSize);
    sizeText.textContent = outpaintSizeText(size);
    sizeText.dataset.testid = "outpaint-size";
    if (problems.length) bar.block(bar.blockReason || problems[0]);
    drawOutpaint(canvas, source.image, ext, size, { blur: Number(blur.value) });
  }

  for (const side of SIDES) inputFor(side).addEventListener("input", () => page.update());
  blur.addEventListener("input", () => page.update());
  window.addEventListener("resize", () => page.update());

  return { update };
}
