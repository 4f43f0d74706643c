// DOM helpers the create page's panels share.

import { paintRange } from "../app.js";

export const $ = (id) => document.getElementById(id);

/** The data a template embedded with json_script. */
export function readJson(id) {
  return JSON.parse($(id).textContent);
}

// The same paths as templates/studio/_icon.html, for markup drawn in the browser.
const ICONS = {
  warn: '<path d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/><path d="M12 9v4M12 17h.01"/>',
  error: '<circle cx="12" cy="12" r="9"/><path d="M12 8v4.5M12 16h.01"/>',
  info: '<circle cx="12" cy="12" r="9"/><path d="M12 11v5M12 8h.01"/>',
  ok: '<circle cx="12" cy="12" r="9"/><path d="M8 12.5l2.5 2.5L16 9.5"/>',
};

export function icon(name) {
  return `<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.75" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[name] || ICONS.info}</svg>`;
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Set a number input and, when it has one, its slider. */
export function setValue(input, range, value) {
  if (!input || value === undefined || value === null) return;
  input.value = value;
  if (range) {
    range.value = value;
    paintRange(range);
  }
}

export function readInt(input, fallback) {
  const value = parseInt(input?.value, 10);
  return Number.isFinite(value) ? value : fallback;
}
