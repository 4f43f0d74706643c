"""Every field a Runware client can send, and what this server does with it: honoured, or refused by name.

The rule: nothing a client sends is silently ignored. A field in HONOURED does what Runware's
reference says (or what its note says where Stepwise differs); a field in REFUSED gets an error that
names it whenever its value asks for something (a no-op value such as `clipSkip: 0` or
`acceleration: "none"` counts as absent); any other field gets `unknownParameter`. The API page shows these tables, and
tests/api/test_field_table.py walks the official SDK's request dataclasses and fails on a field
that is in neither.
"""

from webapp.api.protocol.errors import ApiError

# imageInference ----------------------------------------------------------------------------------

HONOURED = {
    "taskType": "imageInference.",
    "taskUUID": "A UUID you choose, echoed in every reply; unique per user.",
    "model": "An AIR id from the catalog (modelSearch); the team's default when absent.",
    "positivePrompt": 'The prompt. "__BLANK__" means no prompt, as on Runware.',
    "negativePrompt": "What to steer away from.",
    "width": "Multiple of the model's size step, up to its maximum; from the seed image when absent.",
    "height": "As width.",
    "steps": "1-100.",
    "scheduler": "Runware's scheduler names and diffusers class names.",
    "CFGScale": "0-50.",
    "seed": "1 .. 2^63-1; image k of a request uses seed + k (with variationStrength, every image keeps seed).",
    "numberResults": "1-20.",
    "seedImage": "Image UUID, data URI, base64, or a URL where the admin allows fetching.",
    "maskImage": "Same forms as seedImage; makes the task inpainting.",
    "strength": "0-1.",
    "outpaint": "{top, right, bottom, left, blur}.",
    "inputs": "The nested form {seedImage, mask}: the same as seedImage and maskImage.",
    "outputType": "URL, base64Data, dataURI, or a list of them.",
    "outputFormat": "JPG, PNG or WEBP.",
    "outputQuality": "20-99.",
    "includeCost": "Adds cost (GPU seconds x the admin's price).",
    "deliveryMethod": "sync or async (poll with getResponse).",
    "webhookURL": "Each result and each error is POSTed there, with retries; the same address rules as URL fetch.",
    "uploadEndpoint": "Each image is PUT there; a failed upload is the task's error.",
    "ttl": "Lifetime of imageURL in seconds: at least 60, at most the admin's maximum.",
    "lora": "[{model, weight}]: catalog LoRAs of the model's family, weight -4 to 4, up to 8 (docs/addons.md).",
    "lycoris": "The same as lora: merged into one list that takes lora's path.",
    "embeddings": "[{model}]: textual-inversion embeddings from the catalog, usable by their token.",
    "vae": "A catalog VAE of the model's family, for this job only.",
    "clipSkip": "0-2 CLIP layers skipped (SD 1.5, SDXL); 0 means none; the catalog sets the default.",
    "promptWeighting": "compel or sdEmbeds: (word:1.3) weighting through compel (SD 1.5, SDXL).",
    "maskMargin": "32-128: inpainting repaints a crop around the mask at full resolution.",
    "refiner": "{model, startStep | startStepPercentage}: after an SDXL text-to-image base, an SDXL catalog model "
               "runs the rest of the same schedule (the base's steps 1..startStep, the refiner's the rest; "
               "first-order schedulers; docs/addons.md).",
    "hiresFix": "Stepwise extension, text-to-image: {upscale: 1.5 or 2, strength (default 0.5), steps (default "
                "steps)}. Lanczos upscale, then image-to-image at that strength: steps x strength more steps. "
                "The upscaled size must fit the model's and the server's limits.",
    "upscale": "Stepwise extension, image-to-image: 1.5 or 2. The result is the source's size times upscale "
               "(Lanczos, then the pass at strength, default 0.3); width and height follow from it.",
    "safety": "checkContent runs the admin's content checker: NSFWContent on each result; mode flag (default), "
              "blur or withhold. Refused by name when no checker is installed; checkInputs is refused.",
    "checkNSFW": "The older form of safety.checkContent.",
    "variationSeed": "Stepwise extension (A1111's variation seed): 1 .. 2^63-1, random when absent; the initial "
                     "noise is slerp(noise(seed), noise(variationSeed), variationStrength). Image k of a request "
                     "keeps seed and uses variationSeed + k. Text to image only.",
    "variationStrength": "Stepwise extension (A1111's variation strength): 0-1; 0 is the seed's own image, 1 the "
                         "variation seed's. Needed with variationSeed.",
    "includeProgress": "Stepwise extension: per-step progress messages on the websocket.",
    "includePreviews": "Stepwise extension: a small JPEG preview with each progress message.",
}

# Runware features Stepwise does not offer. The validator refuses each by name
# (webapp/studio/schema.py::UNSUPPORTED) when its value asks for something.
REFUSED = {
    "controlNet": "ControlNet guidance.",
    "ipAdapters": "IP-Adapters.",
    "puLID": "PuLID identity guidance.",
    "acePlusPlus": "ACE++ editing.",
    "instantID": "InstantID.",
    "photoMaker": "PhotoMaker.",
    "referenceImages": "Reference images (also inside inputs).",
    "advancedFeatures": "layerDiffuse (transparency), hiresFix, fluxKontext, regionalPrompting, watermark.",
    "ultralytics": "Face and hand detailing.",
    "providerSettings": "Settings of third-party providers.",
    "settings": "Per-model settings of Runware's hosted models.",
    "resolution": "Runware's resolution presets; send width and height.",
    "upscaleFactor": "Upscaling (Runware's imageUpscale).",
    "useCache": "Runware's result cache (false is accepted).",
    "acceleration": 'Runware\'s acceleration presets; "none" is accepted.',
    "acceleratorOptions": "TeaCache, FBCache, DeepCache; accepted when every one is off.",
}

# Fields of the nested objects that are honoured; the rest of each object is refused by name.
INPUTS_HONOURED = ("seedImage", "mask")

# modelSearch -------------------------------------------------------------------------------------

MODEL_SEARCH_HONOURED = {
    "taskType": "modelSearch.",
    "taskUUID": "Echoed.",
    "search": "Matches the name, AIR or notes.",
    "tags": "Any of the tags matches.",
    "category": "checkpoint (the catalog holds checkpoints only).",
    "type": "base.",
    "architecture": "Runware's names: sd1x, sd1xlcm, sdxl, sdxllcm, sdxllightning, sdxlturbo, flux1d, flux1s.",
    "conditioning": "ControlNet conditioning; the catalog holds no ControlNet models, so it matches nothing.",
    "visibility": "public, private or all.",
    "limit": "1-100.",
    "offset": "Paging.",
    "customTaskUUID": "The SDK's own bookkeeping, sent along; no effect on the search.",
    "retry": "The SDK's own retry count, sent along; no effect on the search.",
}

IMAGE_UPLOAD_HONOURED = {"taskType": "imageUpload.", "taskUUID": "Echoed.", "image": "Data URI, base64 or URL."}
GET_RESPONSE_HONOURED = {"taskType": "getResponse.", "taskUUID": "The imageInference task to report on.",
                         "numberResults": "The SDK's expected count; every generation is reported anyway."}

KNOWN = {
    "imageInference": {**HONOURED, **REFUSED},
    "modelSearch": MODEL_SEARCH_HONOURED,
    "imageUpload": IMAGE_UPLOAD_HONOURED,
    "getResponse": GET_RESPONSE_HONOURED,
}


def refuse_unknown_fields(task: dict, task_type: str) -> None:
    """ApiError (unknownParameter) naming each field of `task` that its task type does not know."""
    known = KNOWN[task_type]
    unknown = [name for name in task if name not in known]
    if not unknown:
        return
    errors = [ApiError("unknownParameter", f"{str(name)[:60]} is not a field of {task_type} on this server; see the "
                       "field table on the API page.", parameter=str(name)[:60]) for name in unknown[:20]]
    raise ApiError(errors[0].code, errors[0].message, parameter=errors[0].parameter, extra=errors[1:])


def table_rows() -> list[dict]:
    """The imageInference table for the API page: name, status, note."""
    rows = [{"name": n, "status": "honoured", "note": note} for n, note in HONOURED.items()]
    rows += [{"name": n, "status": "refused", "note": note} for n, note in REFUSED.items()]
    return sorted(rows, key=lambda r: r["name"].lower())
