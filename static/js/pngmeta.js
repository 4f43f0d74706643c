// Generation parameters carried by a PNG, read in the browser from the file's bytes.
//
// Stepwise writes two text chunks into every image it makes (webapp/studio/images.py::png_bytes):
// `stepwise`, the full request as JSON, and `parameters`, the AUTOMATIC1111 text that CivitAI and
// other tools read. A PNG from AUTOMATIC1111 or Forge carries only `parameters`.
// Values come back with the Runware field names the create form uses.

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function latin1(bytes) {
  // tEXt and zTXt are Latin-1 by the PNG spec. TextDecoder("latin1") is really windows-1252, which
  // differs in 0x80-0x9F, so the bytes are mapped one to one instead.
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return text;
}

async function inflate(bytes) {
  // zlib data (compression method 0). DecompressionStream("deflate") is exactly that format.
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function textChunk(type, data) {
  const nul = data.indexOf(0);
  if (nul < 1) return null;
  const keyword = latin1(data.subarray(0, nul));
  if (type === "tEXt") return { keyword, text: latin1(data.subarray(nul + 1)) };
  if (type === "zTXt") return { keyword, text: latin1(await inflate(data.subarray(nul + 2))) };
  // iTXt: keyword, compression flag, method, language tag, translated keyword, then UTF-8 text.
  const compressed = data[nul + 1] === 1;
  const languageEnd = data.indexOf(0, nul + 3);
  const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
  if (translatedEnd < 0) return null;
  const body = data.subarray(translatedEnd + 1);
  return { keyword, text: new TextDecoder().decode(compressed ? await inflate(body) : body) };
}

/**
 * The text chunks (tEXt, zTXt, iTXt) of a PNG as {keyword: text}; {} for anything that is not a PNG.
 * A truncated file gives the chunks before the cut, and a chunk that does not decode is skipped:
 * this only offers to fill a form, the server checks the image itself.
 */
export async function readPngText(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const texts = {};
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = latin1(bytes.subarray(offset + 4, offset + 8));
    const start = offset + 8;
    if (type === "IEND" || start + length + 4 > bytes.length) break;
    if (type === "tEXt" || type === "zTXt" || type === "iTXt") {
      try {
        const chunk = await textChunk(type, bytes.subarray(start, start + length));
        // The first chunk of a keyword wins, as in Pillow's reader.
        if (chunk && !(chunk.keyword in texts)) texts[chunk.keyword] = chunk.text;
      } catch { /* a corrupt compressed chunk: skip it */ }
    }
    offset = start + length + 4; // data, then the CRC
  }
  return texts;
}

// AUTOMATIC1111 -------------------------------------------------------------------------------------

// A1111 sampler names that Stepwise spells differently (generation/schedulers.py). Others, such as
// "Euler", "DPM++ 2M" or "DDIM", are the same in both.
const A1111_SAMPLERS = {
  "Euler a": "Euler Ancestral",
  "DPM2": "KDPM2",
  "DPM2 a": "KDPM2 Ancestral",
  "PLMS": "PNDM",
};
// Schedule types that mean "the sampler's own sigmas": no suffix on the Stepwise name.
const PLAIN_SCHEDULES = ["", "Automatic", "Uniform", "Default"];

/** The Stepwise scheduler name for an A1111 sampler and schedule type ("DPM++ 2M" + "Karras"). */
export function schedulerFromA1111(sampler, scheduleType = "") {
  let name = String(sampler || "").trim();
  let schedule = String(scheduleType || "").trim();
  // A1111 before 1.9 wrote the schedule into the sampler name: "DPM++ 2M Karras".
  if (name.endsWith(" Karras") && !schedule) {
    name = name.slice(0, -" Karras".length);
    schedule = "Karras";
  }
  name = A1111_SAMPLERS[name] || name;
  return PLAIN_SCHEDULES.includes(schedule) ? name : `${name} ${schedule}`;
}

// "Key: value" pairs of the last line; a value with a comma is written as a JSON string.
const PARAM = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;

function unquote(value) {
  if (!value.startsWith('"')) return value.trim();
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function number(value, { integer = false } = {}) {
  const text = String(value ?? "").trim();
  if (!text || !Number.isFinite(Number(text))) return undefined;
  const n = Number(text);
  return integer && !Number.isInteger(n) ? undefined : n;
}

function seedText(value) {
  // Seeds go up to 2**63 - 1, past what a JS number holds exactly: keep the digits as text.
  const text = String(value ?? "").trim();
  return /^\d+$/.test(text) ? text : undefined;
}

function clean(values) {
  // Drop what is missing, so that the form keeps its own value for it.
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== ""));
}

/**
 * An A1111 `parameters` text as Runware fields. The layout, as A1111 writes and parses it:
 * the prompt, then optionally "Negative prompt: ..." (both may span lines), then one line of
 * "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x768, ...".
 */
export function parseA1111(text) {
  const lines = String(text).trim().split(/\r?\n/);
  let pairs = {};
  for (const [, key, value] of (lines.at(-1) ?? "").matchAll(PARAM)) pairs[key.trim()] = unquote(value);
  // Like A1111: fewer than three pairs means the last line is part of the prompt after all.
  if (Object.keys(pairs).length >= 3) lines.pop();
  else pairs = {};

  const prompt = [];
  const negative = [];
  let inNegative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith("Negative prompt:")) {
      inNegative = true;
      line = line.slice("Negative prompt:".length).trim();
    }
    (inNegative ? negative : prompt).push(line);
  }

  const size = /^(\d+)\s*x\s*(\d+)$/.exec(String(pairs.Size ?? "").trim());
  // A1111 writes each LoRA into the prompt as <lora:name:weight>: take them out as LoRA rows.
  const loraNames = [];
  const positive = prompt.join("\n").replace(/\s*<lora:([^:>]+)(?::([-+]?[\d.]+))?>/g, (_, name, weight) => {
    loraNames.push({ name, weight: number(weight) ?? 1 });
    return "";
  });
  const clipSkip = number(pairs["Clip skip"], { integer: true });
  return clean({
    positivePrompt: positive,
    loraNames: loraNames.length ? loraNames : undefined,
    clipSkip: clipSkip >= 1 && clipSkip <= 3 ? clipSkip - 1 : undefined,  // A1111 counts the last layer as 1
    vaeName: pairs.VAE,
    negativePrompt: negative.join("\n"),
    steps: number(pairs.Steps, { integer: true }),
    CFGScale: number(pairs["CFG scale"]),
    seed: seedText(pairs.Seed),
    scheduler: pairs.Sampler ? schedulerFromA1111(pairs.Sampler, pairs["Schedule type"]) : undefined,
    width: size ? Number(size[1]) : undefined,
    height: size ? Number(size[2]) : undefined,
    strength: number(pairs["Denoising strength"]),
    variationSeed: seedText(pairs["Variation seed"]),
    variationStrength: number(pairs["Variation seed strength"]),
    // A1111's hires fix: its "Denoising strength" is then the second pass's.
    hiresFix: pairs["Hires upscale"] !== undefined ? clean({
      upscale: number(pairs["Hires upscale"]),
      strength: number(pairs["Denoising strength"]),
      steps: number(pairs["Hires steps"], { integer: true }) || undefined, // A1111's 0: the same as steps
    }) : undefined,
    // Stepwise adds the model's AIR id; other tools only name the model (or give its hash).
    model: pairs.AIR,
    modelName: pairs.Model,
  });
}

// Stepwise's own chunk ---------------------------------------------------------------------------

/** The `stepwise` chunk (the request as JSON) as form values, or null when it is not one. */
export function parseStepwise(text) {
  let request;
  try {
    request = JSON.parse(text);
  } catch {
    return null;
  }
  if (!request || typeof request !== "object" || Array.isArray(request)) return null;
  if (typeof request.positivePrompt !== "string" && request.steps === undefined) return null;
  const string = (value) => (typeof value === "string" ? value : undefined);
  // JSON.parse has already rounded a seed above 2**53: read its digits from the text instead.
  const seed = /"seed":\s*(\d+)/.exec(text);
  const variationSeed = /"variationSeed":\s*(\d+)/.exec(text);
  return clean({
    positivePrompt: string(request.positivePrompt),
    negativePrompt: string(request.negativePrompt),
    model: string(request.model),
    scheduler: string(request.scheduler),
    steps: number(request.steps, { integer: true }),
    CFGScale: number(request.CFGScale),
    seed: seed ? seed[1] : seedText(request.seed),
    width: number(request.width, { integer: true }),
    height: number(request.height, { integer: true }),
    strength: number(request.strength),
    variationSeed: variationSeed ? variationSeed[1] : undefined,
    variationStrength: number(request.variationStrength),
    lora: Array.isArray(request.lora)
      ? request.lora.filter((l) => l && typeof l.model === "string")
        .map((l) => ({ model: l.model, weight: number(l.weight) ?? 1 }))
      : undefined,
    embeddings: Array.isArray(request.embeddings)
      ? request.embeddings.filter((e) => e && typeof e.model === "string").map((e) => e.model)
      : undefined,
    vae: string(request.vae),
    clipSkip: number(request.clipSkip, { integer: true }),
    promptWeighting: string(request.promptWeighting),
    maskMargin: number(request.maskMargin, { integer: true }),
    hiresFix: request.hiresFix && typeof request.hiresFix === "object" ? clean({
      upscale: number(request.hiresFix.upscale),
      strength: number(request.hiresFix.strength),
      steps: number(request.hiresFix.steps, { integer: true }),
    }) : undefined,
    refiner: request.refiner && typeof request.refiner.model === "string" ? clean({
      model: request.refiner.model,
      startStep: number(request.refiner.startStep, { integer: true }),
    }) : undefined,
  });
}

// Both -------------------------------------------------------------------------------------------

/**
 * The generation parameters in a PNG's text chunks: {source: "stepwise" | "a1111", values}, or null.
 * The `stepwise` JSON is exact (names, numbers, the AIR id), so it wins over the A1111 text.
 */
export function generationParameters(texts) {
  const own = texts.stepwise !== undefined ? parseStepwise(texts.stepwise) : null;
  if (own) return { source: "stepwise", values: own };
  if (typeof texts.parameters === "string" && texts.parameters.trim()) {
    const values = parseA1111(texts.parameters);
    if (values.steps !== undefined || values.seed !== undefined) return { source: "a1111", values };
  }
  return null;
}

/** The generation parameters of a File, Blob or ArrayBuffer; null when it carries none. */
export async function pngParameters(file) {
  const buffer = file instanceof ArrayBuffer || ArrayBuffer.isView(file) ? file : await file.arrayBuffer();
  return generationParameters(await readPngText(buffer));
}

/** "prompt, steps 30, seed 1234, scheduler DPM++ 2M Karras": what the notice says the PNG holds. */
export function describeParameters(values) {
  const parts = [];
  if (values.positivePrompt) parts.push("prompt");
  if (values.steps !== undefined) parts.push(`steps ${values.steps}`);
  if (values.seed !== undefined) parts.push(`seed ${values.seed}`);
  if (values.scheduler) parts.push(`scheduler ${values.scheduler}`);
  const loras = (values.lora || values.loraNames || []).length;
  if (loras) parts.push(loras === 1 ? "1 LoRA" : `${loras} LoRAs`);
  return parts.join(", ");
}
