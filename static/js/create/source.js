// The source image of the image tasks: upload, drop or paste a file, or pick one from the gallery.
// The loaded image is kept in page.source ({image, width, height}) for the mask and outpaint panels.

import { loadImage } from "../mask.js";
import { $ } from "./dom.js";

export function setupSource(page, { bar, onLoaded, onFile }) {
  const { el, source } = page;
  const sourceImg = $("source-img");
  const fileInput = $("seedImage");
  const dataInput = $("seedImageData");
  const sourceEmpty = $("source-empty");
  const sourceChosen = $("source-chosen");
  const sourceSize = $("source-size");
  const changeButton = $("source-change");
  const dropzone = $("dropzone");
  let objectUrl = null;

  function pickerRadios() {
    return [...document.querySelectorAll('input[name="seedImageId"]')];
  }

  async function show(url) {
    try {
      const image = await loadImage(url);
      source.image = image;
      source.width = image.naturalWidth;
      source.height = image.naturalHeight;
      sourceImg.src = url;
      sourceImg.alt = "Source image";
      sourceEmpty.hidden = true;
      sourceChosen.hidden = false;
      changeButton.hidden = false;
      sourceSize.textContent = `Source ${source.width} × ${source.height}`;
      onLoaded(source);
    } catch {
      source.image = null;
      sourceSize.textContent = "This image could not be loaded.";
    }
    bar.setProblem("");
    page.update();
  }

  /** Below the size fields: what an empty width and height mean for this source. */
  function updateSizeHelp(model) {
    if (!el.sizeHelp) return;
    if (!source.image) { el.sizeHelp.textContent = "Leave empty to keep the source size."; return; }
    const multiple = model.sizeMultiple;
    const w = Math.max(multiple, source.width - (source.width % multiple));
    const h = Math.max(multiple, source.height - (source.height % multiple));
    el.sizeHelp.textContent = el.width.value || el.height.value
      ? `The source is ${source.width} × ${source.height}.`
      : `Leave empty to keep the source size: ${w} × ${h}.`;
  }

  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    for (const radio of pickerRadios()) radio.checked = false;
    dataInput.value = "";
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    show(objectUrl);
    onFile(file);
  });
  document.addEventListener("change", (event) => {
    const radio = event.target;
    if (radio.name !== "seedImageId" || !radio.checked) return;
    fileInput.value = "";
    dataInput.value = "";
    show(radio.dataset.url);
    onFile(null); // the offer was about the file that is no longer the source
  });
  for (const type of ["dragenter", "dragover"]) dropzone.addEventListener(type, () => dropzone.classList.add("dragover"));
  for (const type of ["dragleave", "drop"]) dropzone.addEventListener(type, () => dropzone.classList.remove("dragover"));
  changeButton.addEventListener("click", () => {
    sourceEmpty.hidden = false;
    $("picker").open = true;
    fileInput.focus();
  });
  // Also accept a pasted image (e.g. a screenshot).
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (!file) return;
    const transfer = new DataTransfer();
    transfer.items.add(file);
    fileInput.files = transfer.files;
    fileInput.dispatchEvent(new Event("change"));
  });

  return {
    show,
    updateSizeHelp,
    dropzone,
    /** The image the form was rendered with (kept from a re-render, or picked), if any. */
    initialUrl() {
      const checked = pickerRadios().find((r) => r.checked);
      return dataInput.value || (checked && checked.dataset.url);
    },
    isMissing() {
      return !source.image && !fileInput.files.length && !dataInput.value && !pickerRadios().some((r) => r.checked);
    },
    /** Where focus goes back to when a notice about the file closes. */
    focusTarget() {
      return changeButton.hidden ? fileInput : changeButton;
    },
  };
}
