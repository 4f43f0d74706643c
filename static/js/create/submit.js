// The submit button. Only "nothing would run" disables it; a missing source or mask is explained
// when the user submits, next to the button (and on the small-screen bar).

export function createSubmitBar(el) {
  let blockReason = "";
  let problem = "";

  function render() {
    const reason = blockReason || problem;
    el.submit.disabled = Boolean(blockReason);
    if (el.mobileSubmit) el.mobileSubmit.disabled = Boolean(blockReason);
    if (el.mobileSummary) el.mobileSummary.textContent = reason || `${el.count.textContent}${el.evals.textContent ? ` ${el.evals.textContent}` : ""}`;
    el.blocked.hidden = !reason;
    el.blocked.querySelector("span").textContent = reason;
  }

  return {
    render,
    /** Why nothing would run ("" when something does): disables the button. */
    block(reason) {
      blockReason = reason;
      render();
    },
    get blockReason() {
      return blockReason;
    },
    /** What the user must do before submitting (choose a source, paint a mask); "" clears it. */
    setProblem(message) {
      problem = message;
      render();
    },
    get problem() {
      return problem;
    },
  };
}

/** Check the form on submit: a source for image tasks, a painted or uploaded mask for inpainting. */
export function guardSubmit(page, { bar, source, mask }) {
  const { el, form } = page;

  function fail(message, focusTarget) {
    bar.setProblem(message);
    focusTarget?.scrollIntoView({ block: "center", behavior: "smooth" });
    focusTarget?.focus?.({ preventScroll: true });
  }

  form.addEventListener("submit", (event) => {
    if (bar.blockReason) { event.preventDefault(); return; }
    if (source && source.isMissing()) {
      event.preventDefault();
      fail("Choose a source image first: upload one or pick one from the gallery.", source.dropzone);
      return;
    }
    const maskProblem = mask ? mask.beforeSubmit() : "";
    if (maskProblem) {
      event.preventDefault();
      fail(maskProblem, mask.canvas);
      return;
    }
    el.submit.disabled = true;
    if (el.mobileSubmit) el.mobileSubmit.disabled = true;
    el.submitLabel.textContent = "Queuing…";
  });
  window.addEventListener("pageshow", () => { el.submitLabel.textContent = "Generate"; bar.render(); });
}
