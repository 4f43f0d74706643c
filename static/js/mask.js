// Inpainting mask editor: paint on a <canvas> laid over the source image, at the image's natural size.
//
// The canvas holds the mask in its alpha channel (drawn in a tint color so the image shows through);
// export turns it into the black/white PNG the server expects: white = repaint.

const TINT = "rgb(124 92 255)";
const UNDO_LIMIT = 30;

export class MaskEditor {
  constructor({ canvas, cursor, onChange = () => {} }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.cursor = cursor;
    this.onChange = onChange;
    this.tool = "brush";
    this.size = 40; // in screen pixels; converted to image pixels while drawing
    this.undoStack = [];
    this.drawing = false;
    this.dirty = false;
    this.last = null;
    this.canvas.style.opacity = "0.58";
    this._bind();
  }

  /** Size the canvas to the source's natural size and clear it. */
  reset(width, height) {
    this.canvas.width = width;
    this.canvas.height = height;
    this.ctx.clearRect(0, 0, width, height);
    this.undoStack = [];
    this.dirty = false;
    this.onChange();
  }

  get ready() {
    return this.canvas.width > 0 && this.canvas.height > 0;
  }

  setTool(tool) {
    this.tool = tool;
  }

  setSize(size) {
    this.size = Number(size);
    this._updateCursorSize();
  }

  _scale() {
    const rect = this.canvas.getBoundingClientRect();
    return rect.width ? this.canvas.width / rect.width : 1;
  }

  _point(event) {
    const rect = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / rect.width;
    return { x: (event.clientX - rect.left) * scale, y: (event.clientY - rect.top) * scale };
  }

  _snapshot() {
    if (!this.ready) return;
    this.undoStack.push(this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height));
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
  }

  _stroke(from, to) {
    const ctx = this.ctx;
    ctx.save();
    ctx.globalCompositeOperation = this.tool === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = TINT;
    ctx.fillStyle = TINT;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = this.size * this._scale();
    ctx.beginPath();
    if (from.x === to.x && from.y === to.y) {
      ctx.arc(to.x, to.y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    }
    ctx.restore();
  }

  _bind() {
    const canvas = this.canvas;
    canvas.addEventListener("pointerdown", (event) => {
      if (!this.ready || (event.pointerType === "mouse" && event.button !== 0)) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      this._snapshot();
      this.drawing = true;
      this.last = this._point(event);
      this._stroke(this.last, this.last);
      this.dirty = true;
    });
    canvas.addEventListener("pointermove", (event) => {
      this._moveCursor(event);
      if (!this.drawing) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) {
        const point = this._point(e);
        this._stroke(this.last, point);
        this.last = point;
      }
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.last = null;
      this.onChange();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", () => { if (this.cursor) this.cursor.style.display = "none"; });
    canvas.addEventListener("pointerenter", (event) => this._moveCursor(event));
  }

  _moveCursor(event) {
    if (!this.cursor || event.pointerType === "touch") return;
    const rect = this.canvas.getBoundingClientRect();
    this.cursor.style.display = "block";
    this.cursor.style.left = `${event.clientX - rect.left}px`;
    this.cursor.style.top = `${event.clientY - rect.top}px`;
    this._updateCursorSize();
  }

  _updateCursorSize() {
    if (!this.cursor) return;
    this.cursor.style.width = `${this.size}px`;
    this.cursor.style.height = `${this.size}px`;
    this.cursor.style.borderStyle = this.tool === "eraser" ? "dashed" : "solid";
  }

  undo() {
    const previous = this.undoStack.pop();
    if (!previous) return;
    this.ctx.putImageData(previous, 0, 0);
    this.dirty = true;
    this.onChange();
  }

  clear() {
    if (!this.ready) return;
    this._snapshot();
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.dirty = true;
    this.onChange();
  }

  invert() {
    if (!this.ready) return;
    this._snapshot();
    const { width, height } = this.canvas;
    const data = this.ctx.getImageData(0, 0, width, height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      px[i] = 124; px[i + 1] = 92; px[i + 2] = 255;
      px[i + 3] = 255 - px[i + 3];
    }
    this.ctx.putImageData(data, 0, 0);
    this.dirty = true;
    this.onChange();
  }

  /** Share of the image that will be repainted, 0..1. */
  coverage() {
    if (!this.ready) return 0;
    const { width, height } = this.canvas;
    const px = this.ctx.getImageData(0, 0, width, height).data;
    let painted = 0;
    // Sample every 4th pixel: plenty for a percentage, fast on large images.
    for (let i = 3; i < px.length; i += 16) if (px[i] > 127) painted++;
    return painted / (px.length / 16);
  }

  /** Load a black/white mask image (white = repaint) into the editor. */
  async load(url) {
    const image = await loadImage(url);
    if (!this.ready || image.naturalWidth !== this.canvas.width || image.naturalHeight !== this.canvas.height) {
      this.reset(image.naturalWidth, image.naturalHeight);
    }
    const temp = document.createElement("canvas");
    temp.width = this.canvas.width;
    temp.height = this.canvas.height;
    const tctx = temp.getContext("2d", { willReadFrequently: true });
    tctx.drawImage(image, 0, 0, temp.width, temp.height);
    const data = tctx.getImageData(0, 0, temp.width, temp.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const luminance = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      const alpha = px[i + 3] < 128 ? 0 : luminance;
      px[i] = 124; px[i + 1] = 92; px[i + 2] = 255;
      px[i + 3] = alpha > 127 ? 255 : 0;
    }
    this._snapshot();
    this.ctx.putImageData(data, 0, 0);
    this.dirty = true;
    this.onChange();
  }

  /** The mask as a PNG data URI at the image's natural size: white = repaint, black = keep. */
  toDataURL() {
    const { width, height } = this.canvas;
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    const octx = out.getContext("2d");
    const source = this.ctx.getImageData(0, 0, width, height).data;
    const result = octx.createImageData(width, height);
    const px = result.data;
    for (let i = 0; i < px.length; i += 4) {
      const value = source[i + 3] > 127 ? 255 : 0;
      px[i] = px[i + 1] = px[i + 2] = value;
      px[i + 3] = 255;
    }
    octx.putImageData(result, 0, 0);
    return out.toDataURL("image/png");
  }
}

export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`Could not load ${url.slice(0, 60)}`));
    image.src = url;
  });
}
