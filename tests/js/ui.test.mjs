// node --test tests/js/
// Pure helpers of the create and job pages.
import assert from "node:assert/strict";
import { test } from "node:test";

import { outpaintProblems, outpaintSize, outpaintSizeText } from "../../static/js/outpaint.js";
import { backoffDelay } from "../../static/js/socket.js";
import { applyStyle } from "../../static/js/styles.js";

test("outpaint size: the source snapped to the model's multiple, plus the sides", () => {
  const size = outpaintSize({ sourceWidth: 512, sourceHeight: 512, right: 256, multiple: 8 });
  assert.equal(outpaintSizeText(size), "768 x 512 (source 512 x 512 + 256)");
  const both = outpaintSize({ sourceWidth: 500, sourceHeight: 300, top: 64, right: 128, bottom: 64, left: 0, multiple: 16 });
  assert.deepEqual([both.baseWidth, both.baseHeight, both.width, both.height], [496, 288, 624, 416]);
  assert.equal(outpaintSizeText(both), "624 x 416 (source 496 x 288 + 128 x 128)");
});

test("outpaint problems use the validator's words", () => {
  const none = { top: 0, right: 0, bottom: 0, left: 0 };
  assert.deepEqual(outpaintProblems(none, null, 2048), ["outpaint must extend at least one side."]);
  assert.deepEqual(outpaintProblems({ ...none, left: 100 }, null, 2048), ["outpaint.left must be a multiple of 64, not 100."]);
  const big = outpaintSize({ sourceWidth: 2048, sourceHeight: 512, right: 64 });
  assert.match(outpaintProblems({ ...none, right: 64 }, big, 2048)[0], /2112 x 512/);
  assert.deepEqual(outpaintProblems({ ...none, right: 64 }, outpaintSize({ sourceWidth: 512, sourceHeight: 512, right: 64 }), 2048), []);
});

test("reconnect backoff doubles, has jitter and a ceiling", () => {
  const low = () => 0;
  const high = () => 1;
  assert.equal(backoffDelay(0, { random: low }), 250);
  assert.equal(backoffDelay(0, { random: high }), 500);
  assert.equal(backoffDelay(3, { random: high }), 4000);
  assert.equal(backoffDelay(20, { random: high }), 15000);
  assert.equal(backoffDelay(20, { random: low }), 7500);
});

test("a style: {prompt} takes the prompt in its place, any other fragment follows a comma", () => {
  assert.equal(applyStyle("a red fox", "cinematic still of {prompt}, film grain"), "cinematic still of a red fox, film grain");
  assert.equal(applyStyle("a red fox, ", "golden hour"), "a red fox, golden hour");
  assert.equal(applyStyle("", "golden hour"), "golden hour");
  assert.equal(applyStyle("", "photo of {prompt}"), "photo of ");
  assert.equal(applyStyle("a red fox", ""), "a red fox");
  assert.equal(applyStyle("a", "{prompt} and {prompt}"), "a and a");
});
