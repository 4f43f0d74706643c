// Inpainting: the mask painted over the source (brush, eraser, undo, invert, clear, keys), or an
// uploaded mask loaded into the editor so it can be seen and touched up.

import { paintRange } from "../app.js";
import { MaskEditor, loadImage } from "../mask.js";
import { $ } from "./dom.js";

export function setupMask(page, { bar }) {
  const { source } = page;
  const canvas = $("mask-canvas");
  const status = $("mask-status");
  const dataInput = $("maskImageData");
  const idInput = $("maskImageId");
  const fileInput = $("maskImage");
  const sourceSize = $("source-size");
  const size = $("brush-size");
  const sizeOut = $("brush-size-out");

  function renderStatus() {
    if (!status) return;
    if (bar.problem) bar.setProblem("");
    const share = editor.coverage();
    status.textContent = share > 0 ? `Repainting ${Math.max(1, Math.round(share * 100))}% of the image` : "Nothing painted yet";
  }

  const editor = new MaskEditor({ canvas, cursor: $("brush-cursor"), onChange: renderStatus });
  size.addEventListener("input", () => { editor.setSize(size.value); sizeOut.textContent = size.value; });
  editor.setSize(size.value);
  const toolButtons = [...document.querySelectorAll("[data-tool]")];
  const setTool = (tool) => {
    editor.setTool(tool);
    for (const b of toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
  };
  for (const b of toolButtons) b.addEventListener("click", () => setTool(b.dataset.tool));
  for (const b of document.querySelectorAll("[data-mask-action]")) {
    b.addEventListener("click", () => editor[b.dataset.maskAction]());
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); editor.undo(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "b") setTool("brush");
    else if (event.key === "e") setTool("eraser");
    else if (event.key === "[" || event.key === "]") {
      size.value = Math.max(4, Math.min(200, Number(size.value) + (event.key === "]" ? 8 : -8)));
      size.dispatchEvent(new Event("input"));
      paintRange(size);
    }
  });
  // An uploaded mask file is loaded into the editor, so it can be seen and touched up.
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file || !source.image) return;
    const url = URL.createObjectURL(file);
    try {
      const probe = await loadImage(url);
      if (probe.naturalWidth !== source.width || probe.naturalHeight !== source.height) {
        sourceSize.textContent = `The mask is ${probe.naturalWidth} × ${probe.naturalHeight}, the source ${source.width} × ${source.height}: they must match.`;
        return;
      }
      await editor.load(url);
      fileInput.value = "";
    } finally {
      URL.revokeObjectURL(url);
    }
  });

  return {
    canvas,
    /** A new source: an empty mask of its size. */
    reset(width, height) {
      editor.reset(width, height);
    },
    /** The mask the form was rendered with (kept from a re-render, or reused), into the editor. */
    async loadInitial() {
      const url = dataInput.value || (idInput.value && idInput.dataset.url);
      if (!url) return;
      await editor.load(url).catch(() => {});
      editor.dirty = Boolean(dataInput.value);
      renderStatus();
    },
    /** Put a painted mask into the form; what is missing otherwise ("" when the form can go). */
    beforeSubmit() {
      if (editor.dirty) {
        dataInput.value = editor.toDataURL();
        idInput.value = "";
      } else if (!idInput.value && !dataInput.value && !(fileInput.files && fileInput.files.length)) {
        return "Paint the area to repaint on the image (white = repaint), or upload a mask.";
      }
      if (editor.dirty && editor.coverage() === 0) return "The mask is empty: paint the area to repaint, or upload a mask.";
      return "";
    },
  };
}
