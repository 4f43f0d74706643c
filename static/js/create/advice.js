// The product document's advice for the form's values. The rules live on the server
// (generation/advice.py): this asks its JSON view, a moment after the sliders stop, and draws the list
// (at most one recommendation) and the cost sentence, in the user's own numbers.

import { escapeHtml, icon } from "./dom.js";

const DEBOUNCE_MS = 150;

export function setupAdvice(list, costCaption, estimate) {
  const url = list.dataset.url;
  let timer = null;
  let controller = null;

  function show(items, cost = "", time = "") {
    if (costCaption) costCaption.textContent = cost;
    if (estimate) estimate.textContent = time;
    list.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.className = item.level;
      li.dataset.advice = item.key;
      li.innerHTML = `${icon(item.level)}<span>${escapeHtml(item.text)}</span>`;
      return li;
    }));
  }

  async function load(params) {
    controller?.abort(); // an answer for older values must not overwrite a newer one
    controller = new AbortController();
    try {
      const response = await fetch(`${url}?${new URLSearchParams(params)}`, {
        headers: { Accept: "application/json" }, signal: controller.signal,
      });
      const data = await response.json();
      show(response.ok ? data.advice : [], response.ok ? data.cost : "", response.ok ? data.estimate : "");
    } catch (error) {
      if (error.name !== "AbortError") show([]);
    }
  }

  /** Ask for the advice on these values: {model, scheduler, steps[, strength]}. */
  function request(params) {
    clearTimeout(timer);
    timer = setTimeout(() => load(params), DEBOUNCE_MS);
  }

  /** No advice applies (the steps are out of range, or there is no scheduler). */
  function clear() {
    clearTimeout(timer);
    controller?.abort();
    show([]);
  }

  return { request, clear };
}
