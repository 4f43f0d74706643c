// Outpainting: the new canvas size (mirrors schema.validate_inference) and its live preview.

export const SIDES = ["top", "right", "bottom", "left"];

function snap(value, multiple) {
  return Math.max(multiple, value - (value % multiple));
}

/** Final size of an outpainted image: the source snapped to the model's multiple, plus the sides. */
export function outpaintSize({ sourceWidth, sourceHeight, top = 0, right = 0, bottom = 0, left = 0, multiple = 8 }) {
  const baseWidth = snap(sourceWidth, multiple);
  const baseHeight = snap(sourceHeight, multiple);
  return {
    baseWidth,
    baseHeight,
    width: baseWidth + left + right,
    height: baseHeight + top + bottom,
    addWidth: left + right,
    addHeight: top + bottom,
  };
}

/** "768 x 512 (source 512 x 512 + 256)"; "+ 256 x 128" when both dimensions grow. */
export function outpaintSizeText(size) {
  let added = `${size.addWidth}`;
  if (size.addHeight) added = `${size.addWidth} x ${size.addHeight}`;
  return `${size.width} x ${size.height} (source ${size.baseWidth} x ${size.baseHeight} + ${added})`;
}

/** Problems with the extensions, in the validator's words. */
export function outpaintProblems(ext, size, maxSize) {
  const problems = [];
  for (const side of SIDES) {
    const value = ext[side];
    if (!Number.isInteger(value) || value < 0 || value > 2048) problems.push(`outpaint.${side} must be a whole number of pixels from 0 to 2048.`);
    else if (value % 64) problems.push(`outpaint.${side} must be a multiple of 64, not ${value}.`);
  }
  if (!problems.length && !SIDES.some((side) => ext[side])) problems.push("outpaint must extend at least one side.");
  if (!problems.length && size && (size.width > maxSize || size.height > maxSize)) {
    problems.push(`The outpainted image would be ${size.width} x ${size.height}; this model allows at most ${maxSize} x ${maxSize}.`);
  }
  return problems;
}

/** Draw the extended frame with the source inside it. */
export function drawOutpaint(canvas, image, ext, size, { blur = 0 } = {}) {
  const box = canvas.parentElement.getBoundingClientRect();
  const maxW = Math.max(160, Math.min(box.width - 20, 560));
  const maxH = 360;
  const scale = Math.min(maxW / size.width, maxH / size.height);
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(size.width * scale);
  const h = Math.round(size.height * scale);
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const styles = getComputedStyle(document.documentElement);
  // New area: a diagonal hatch in the accent color.
  ctx.fillStyle = styles.getPropertyValue("--accent-soft").trim() || "#eef";
  ctx.fillRect(0, 0, w, h);
  ctx.save();
  ctx.strokeStyle = styles.getPropertyValue("--accent-soft-2").trim() || "#dde";
  ctx.lineWidth = 6;
  for (let x = -h; x < w; x += 16) {
    ctx.beginPath();
    ctx.moveTo(x, h);
    ctx.lineTo(x + h, 0);
    ctx.stroke();
  }
  ctx.restore();
  const sx = ext.left * scale;
  const sy = ext.top * scale;
  const sw = size.baseWidth * scale;
  const sh = size.baseHeight * scale;
  if (image && image.naturalWidth) ctx.drawImage(image, sx, sy, sw, sh);
  if (blur > 0) {
    // Show the seam band that gets blended.
    ctx.save();
    ctx.strokeStyle = "rgba(255,255,255,0.55)";
    ctx.lineWidth = Math.max(1, blur * scale);
    ctx.strokeRect(sx, sy, sw, sh);
    ctx.restore();
  }
  ctx.save();
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = styles.getPropertyValue("--accent").trim() || "#55f";
  ctx.lineWidth = 1.5;
  ctx.strokeRect(sx + 0.75, sy + 0.75, sw - 1.5, sh - 1.5);
  ctx.restore();
}
