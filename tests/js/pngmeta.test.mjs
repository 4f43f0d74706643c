// node --test tests/js/
// Reading generation parameters back out of PNGs: Stepwise's own (fixtures made by
// webapp/studio/images.py::png_bytes, see fixtures/make_fixtures.py) and AUTOMATIC1111's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { crc32, deflateSync } from "node:zlib";

import {
  describeParameters, generationParameters, parseA1111, pngParameters, readPngText, schedulerFromA1111,
} from "../../static/js/pngmeta.js";

const fixture = (name) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

// A PNG with the given chunks after the header, built here for chunk kinds Pillow does not write.
function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
function png(...chunks) {
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(1, 0);
  header.writeUInt32BE(1, 4);
  header[8] = 8; // bit depth; colour type 0 (grey)
  return Buffer.concat([signature, chunk("IHDR", header), ...chunks, chunk("IEND", Buffer.alloc(0))]);
}
const nul = Buffer.from([0]);

test("a Stepwise PNG: both text chunks, and the request JSON wins", async () => {
  const texts = await readPngText(fixture("params.png"));
  assert.deepEqual(Object.keys(texts).sort(), ["parameters", "stepwise"]);
  assert.equal(texts.parameters, "a lighthouse at dusk, oil on canvas\nNegative prompt: blurry, watermark\n"
    + "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567, Size: 512x768, "
    + "Model: Built-in test model, Denoising strength: 0.55, Steps run: 16, AIR: stepwise:1@1");
  assert.deepEqual(await pngParameters(fixture("params.png")), {
    source: "stepwise",
    values: {
      positivePrompt: "a lighthouse at dusk, oil on canvas", negativePrompt: "blurry, watermark",
      model: "stepwise:1@1", scheduler: "DPM++ 2M Karras", steps: 30, CFGScale: 6.5, seed: "1234567",
      width: 512, height: 768, strength: 0.55,
    },
  });
});

test("the A1111 text of the same PNG maps back to the same fields", async () => {
  const { parameters } = await readPngText(fixture("params.png"));
  assert.deepEqual(parseA1111(parameters), {
    positivePrompt: "a lighthouse at dusk, oil on canvas", negativePrompt: "blurry, watermark",
    steps: 30, CFGScale: 6.5, seed: "1234567", scheduler: "DPM++ 2M Karras", width: 512, height: 768,
    strength: 0.55, model: "stepwise:1@1", modelName: "Built-in test model",
  });
});

test("iTXt (text outside Latin-1) decodes as UTF-8, and a seed past 2**53 keeps its digits", async () => {
  const texts = await readPngText(fixture("params-utf8.png"));
  assert.match(texts.parameters, /^夕暮れの灯台, «café» — 🌅\nSteps: 8, Sampler: Euler Ancestral,/);
  const { source, values } = await pngParameters(fixture("params-utf8.png"));
  assert.equal(source, "stepwise");
  assert.equal(values.positivePrompt, "夕暮れの灯台, «café» — 🌅");
  assert.equal(values.seed, "9007199254740993");
  assert.equal(parseA1111(texts.parameters).seed, "9007199254740993");
  assert.equal(values.strength, undefined); // text to image: the form keeps its own strength
});

test("compressed iTXt and zTXt chunks are inflated", async () => {
  const text = "a red door\nSteps: 12, Sampler: Euler a, CFG scale: 5, Seed: 42, Size: 768x512";
  const itxt = Buffer.concat([Buffer.from("parameters"), nul, Buffer.from([1, 0]), Buffer.from("en"), nul, nul,
    deflateSync(Buffer.from(text, "utf8"))]);
  const texts = await readPngText(png(chunk("iTXt", itxt)));
  assert.equal(texts.parameters, text);
  const ztxt = Buffer.concat([Buffer.from("Comment"), nul, Buffer.from([0]), deflateSync(Buffer.from("café", "latin1"))]);
  assert.deepEqual(await readPngText(png(chunk("zTXt", ztxt))), { Comment: "café" });
  const tEXt = Buffer.concat([Buffer.from("Comment"), nul, Buffer.from("naïve", "latin1")]);
  assert.deepEqual(await readPngText(png(chunk("tEXt", tEXt))), { Comment: "naïve" });
});

test("not a PNG, a truncated PNG, a corrupt chunk", async () => {
  assert.deepEqual(await readPngText(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70])), {});
  assert.deepEqual(await readPngText(new ArrayBuffer(0)), {});
  assert.equal(await pngParameters(Buffer.from("GIF89a")), null);
  // Pillow writes `parameters` before `stepwise`: cut inside the second and the first still reads.
  const whole = fixture("params.png");
  const cut = whole.subarray(0, whole.indexOf("stepwise") + 20);
  const { source, values } = await pngParameters(cut);
  assert.equal(source, "a1111");
  assert.equal(values.scheduler, "DPM++ 2M Karras");
  const bad = Buffer.concat([Buffer.from("parameters"), nul, Buffer.from([1, 0]), nul, nul, Buffer.from("not zlib")]);
  assert.deepEqual(await readPngText(png(chunk("iTXt", bad))), {});
});

test("a broken stepwise chunk falls back to the A1111 text; plain text is not parameters", () => {
  const a1111 = "cat\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 5, Size: 512x512";
  assert.deepEqual(generationParameters({ stepwise: "{not json", parameters: a1111 }).source, "a1111");
  assert.equal(generationParameters({ stepwise: "[1, 2]" }), null);
  assert.equal(generationParameters({ parameters: "just a caption, nothing else" }), null);
  assert.equal(generationParameters({ Software: "GIMP" }), null);
});

test("A1111 layouts: multi-line prompts, quoted values, hires and extra fields", () => {
  const text = [
    "masterpiece, a castle", "on a hill", "Negative prompt: lowres,", "bad hands",
    'Steps: 25, Sampler: DPM++ SDE, Schedule type: Karras, CFG scale: 4.5, Seed: 3141592653, Size: 832x1216, '
    + 'Model hash: abc123, Model: juggernautXL, Lora hashes: "detail: 1a2b, style: 3c4d", Version: v1.10.1',
  ].join("\n");
  assert.deepEqual(parseA1111(text), {
    positivePrompt: "masterpiece, a castle\non a hill", negativePrompt: "lowres,\nbad hands", steps: 25,
    CFGScale: 4.5, seed: "3141592653", scheduler: "DPM++ SDE Karras", width: 832, height: 1216,
    modelName: "juggernautXL",
  });
});

test("variations: A1111's variation seed and strength, and the stepwise chunk's", () => {
  const a1111 = parseA1111("a star\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 100, Size: 256x256, "
    + "Variation seed: 9223372036854775000, Variation seed strength: 0.15");
  assert.equal(a1111.variationSeed, "9223372036854775000");
  assert.equal(a1111.variationStrength, 0.15);
  const own = generationParameters({ stepwise: '{"positivePrompt": "a star", "steps": 20, "seed": 100, '
    + '"variationSeed": 9223372036854775000, "variationStrength": 0.2}' }).values;
  assert.equal(own.variationSeed, "9223372036854775000");
  assert.equal(own.variationStrength, 0.2);
});

test("A1111 sampler and schedule type -> the Stepwise scheduler name", () => {
  assert.equal(schedulerFromA1111("DPM++ 2M", "Karras"), "DPM++ 2M Karras");
  assert.equal(schedulerFromA1111("DPM++ 2M Karras"), "DPM++ 2M Karras"); // A1111 before 1.9
  assert.equal(schedulerFromA1111("DPM++ 2M", "Automatic"), "DPM++ 2M");
  assert.equal(schedulerFromA1111("Euler a", "Automatic"), "Euler Ancestral");
  assert.equal(schedulerFromA1111("Euler", "Uniform"), "Euler");
  assert.equal(schedulerFromA1111("Euler", "Exponential"), "Euler Exponential");
  assert.equal(schedulerFromA1111("DPM2 a", "Karras"), "KDPM2 Ancestral Karras");
  assert.equal(schedulerFromA1111("PLMS"), "PNDM");
  assert.equal(schedulerFromA1111("Euler Ancestral"), "Euler Ancestral"); // Stepwise's own names pass
});

test("the notice names what the PNG carries", () => {
  assert.equal(describeParameters({ positivePrompt: "x", steps: 30, seed: "7", scheduler: "DPM++ 2M Karras" }),
    "prompt, steps 30, seed 7, scheduler DPM++ 2M Karras");
  assert.equal(describeParameters({ steps: 4 }), "steps 4");
});

test("A1111 add-ons: <lora:name:weight> tags leave the prompt as LoRA rows; clip skip and VAE", () => {
  const text = [
    "a fox <lora:ohwx-person:0.8> in snow <lora:detail>",
    "Steps: 20, Sampler: Euler, CFG scale: 7, Seed: 3, Size: 512x512, Clip skip: 2, VAE: mse",
  ].join("\n");
  const values = parseA1111(text);
  assert.equal(values.positivePrompt, "a fox in snow");
  assert.deepEqual(values.loraNames, [{ name: "ohwx-person", weight: 0.8 }, { name: "detail", weight: 1 }]);
  assert.equal(values.clipSkip, 1);
  assert.equal(values.vaeName, "mse");
  assert.match(describeParameters(values), /2 LoRAs/);
});

test("Stepwise's chunk carries the add-ons by AIR id", () => {
  const request = {
    positivePrompt: "a fox", steps: 20, lora: [{ model: "local:ohwx@1", weight: -1.5 }, { nonsense: 1 }],
    embeddings: [{ model: "local:easyneg@1" }], vae: "local:mse@1", clipSkip: 1, promptWeighting: "sdEmbeds",
    maskMargin: 64,
  };
  const { values } = generationParameters({ stepwise: JSON.stringify(request) });
  assert.deepEqual(values.lora, [{ model: "local:ohwx@1", weight: -1.5 }]);
  assert.deepEqual(values.embeddings, ["local:easyneg@1"]);
  assert.equal(values.vae, "local:mse@1");
  assert.equal(values.clipSkip, 1);
  assert.equal(values.promptWeighting, "sdEmbeds");
  assert.equal(values.maskMargin, 64);
});

test("the second pass: A1111's hires fix and Stepwise's hiresFix and refiner", () => {
  const text = [
    "a castle",
    "Steps: 30, Sampler: Euler, CFG scale: 7, Seed: 3, Size: 512x512, Denoising strength: 0.45, "
    + "Hires upscale: 2, Hires steps: 0, Hires upscaler: Latent",
  ].join("\n");
  assert.deepEqual(parseA1111(text).hiresFix, { upscale: 2, strength: 0.45 });  // A1111's 0 steps: the same
  const request = {
    positivePrompt: "a castle", steps: 30, hiresFix: { upscale: 1.5, strength: 0.5, steps: 20 },
    refiner: { model: "local:xl-refiner@1", startStep: 24 },
  };
  const { values } = generationParameters({ stepwise: JSON.stringify(request) });
  assert.deepEqual(values.hiresFix, { upscale: 1.5, strength: 0.5, steps: 20 });
  assert.deepEqual(values.refiner, { model: "local:xl-refiner@1", startStep: 24 });
});
