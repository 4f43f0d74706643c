"""The generation engine: loads diffusers pipelines, runs one job at a time, reports every step.

Used by the worker process only (it imports torch and diffusers); no Django here. An `Engine` is not
thread-safe: pipelines and schedulers are stateful, so a worker runs one generation at a time.

- Models are cached per AIR id, least recently used first out, `cache_size` at most. Switching
  task type reuses the loaded weights (`from_pipe`), never reloads.
- Each job gets a fresh scheduler on its own pipeline object (sharing the cached components), so a
  job can never change another job's scheduler.
- Add-ons (generation/addons.py) stay with the cached model they were put on: each LoRA is loaded
  once as a named adapter, each embedding once under its token. A job switches on exactly its own
  adapters with its weights and switches them all off when it ends, however it ends, so a LoRA
  never leaks into the next job. A VAE override goes on the job's own pipeline object only.
- `on_step(step, total, preview)` fires once per denoising step (preview None when
  `want_preview()` says nobody needs one, else a `previews.PendingPreview`: `np.asarray(preview)`
  projects it, off the denoising thread), `total` being exactly
  `generation.steps.job_plan(...).steps`, also for order-2 schedulers (Heun, KDPM2, DPM++ SDE)
  whose pipelines call back once per model evaluation (2N-1 times).
- A second pass goes on with the same counter: the hires fix (Lanczos upscale, then image to image
  on the same model and add-ons) or the SDXL refiner (another cached model runs the end of the
  base's own schedule, from its latents). The refiner is loaded through the same cache: with
  `cache_size` 1 it takes the base's place (see docs/addons.md for the memory it costs).
"""

import os

# This worker never downloads: models come from local folders and files only. Set before
# huggingface_hub is imported (the worker entry point should set it too, before anything else).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Worker logs should say what Stepwise does, not list optional packages transformers could use.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import dataclasses  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import diffusers  # noqa: E402

diffusers.utils.logging.disable_progress_bar()  # no "Loading pipeline components" bars in worker logs
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from generation import addons, outpaint, schedulers  # noqa: E402
from generation.architectures import ARCHITECTURES, CLIP_FAMILIES, is_flow_matching  # noqa: E402

# The engine's inputs and errors, defined without torch so that the job runner can import them.
from generation.inputs import (  # noqa: E402,F401
    MASK_MARGIN_FAMILIES,
    PROMPT_WEIGHTING,
    AddOn,
    GenerationCancelled,
    GenerationInput,
    ModelLoadError,
    ModelSource,
    OutOfMemory,
)
from generation.previews import LatentPreviewer, latent_format  # noqa: E402
from generation.steps import HIRES_UPSCALES, JobPlan, Pass, job_plan, upscaled_size  # noqa: E402
from generation.task_types import IMAGE_TO_IMAGE, INPAINTING, OUTPAINTING, TASK_TYPES, TEXT_TO_IMAGE  # noqa: E402
from generation.variations import vary_initial_noise  # noqa: E402

# The diffusers pipeline class of each family for each kind of run. Outpainting is inpainting on a
# larger canvas (see generation/outpaint.py).
PIPELINES = {
    "sd15": {
        "text": "StableDiffusionPipeline",
        "image": "StableDiffusionImg2ImgPipeline",
        "inpaint": "StableDiffusionInpaintPipeline",
    },
    "sdxl": {
        "text": "StableDiffusionXLPipeline",
        "image": "StableDiffusionXLImg2ImgPipeline",
        "inpaint": "StableDiffusionXLInpaintPipeline",
    },
    "flux": {"text": "FluxPipeline", "image": "FluxImg2ImgPipeline", "inpaint": "FluxInpaintPipeline"},
    "zimage": {"text": "ZImagePipeline", "image": "ZImageImg2ImgPipeline", "inpaint": "ZImageInpaintPipeline"},
}
PIPELINE_KIND = {TEXT_TO_IMAGE: "text", IMAGE_TO_IMAGE: "image", INPAINTING: "inpaint", OUTPAINTING: "inpaint"}

# `from_pipe` of these builds a pipeline of that kind over the same component objects. Not
# `SomePipeline.from_pipe`: that one also casts the (shared) components to its `dtype` argument.
AUTO_PIPELINES = {
    "text": diffusers.AutoPipelineForText2Image,
    "image": diffusers.AutoPipelineForImage2Image,
    "inpaint": diffusers.AutoPipelineForInpainting,
}

OnStep = Callable[[int, int, "np.ndarray | None"], None]

MAX_CLIP_SKIP = 2
# Standalone VAEs kept loaded (per model they were built for), least recently used first out.
VAE_CACHE_SIZE = 2


class Engine:
    def __init__(self, *, device: str = "auto", cache_size: int = 2):
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, not {cache_size}.")
        if device == "auto":
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.cache_size = cache_size
        # AIR id -> that model's pipelines by kind ("text", "image", "inpaint"), all sharing the
        # components loaded for "text"; least recently used first.
        self._cache: OrderedDict[str, dict] = OrderedDict()
        # AIR id -> the latent-to-RGB projection its previews use (see generation/previews.py).
        self._latent_formats: dict[str, tuple] = {}
        # (folder, ContentChecker): the content checker last used, kept loaded.
        self._checker: tuple[str, Any] | None = None
        # AIR id -> {LoRA AIR id: adapter name} loaded on that model's components.
        self._adapters: dict[str, dict[str, str]] = {}
        # AIR id -> {embedding AIR id: token} loaded into that model's tokenizers.
        self._embeddings: dict[str, dict[str, str]] = {}
        # (model AIR id, VAE AIR id) -> the loaded VAE; least recently used first.
        self._vaes: OrderedDict[tuple[str, str], Any] = OrderedDict()

    # -- Device ---------------------------------------------------------------------------------

    @property
    def on_cuda(self) -> bool:
        return torch.device(self.device).type == "cuda"

    def dtype_for(self, family: str) -> torch.dtype:
        """fp32 on the CPU; on CUDA fp16 for SD 1.5/SDXL, bf16 for FLUX and Z-Image (as trained)."""
        if not self.on_cuda:
            return torch.float32
        return torch.bfloat16 if is_flow_matching(family) else torch.float16

    def describe_device(self) -> str:
        if self.on_cuda:
            name = torch.cuda.get_device_name(torch.device(self.device))
            return f"{name} ({self.device}, fp16 for SD/SDXL, bf16 for FLUX/Z-Image)"
        return f"cpu ({torch.get_num_threads()} threads, fp32)"

    # -- Models ---------------------------------------------------------------------------------

    def loaded_models(self) -> list[str]:
        """AIR ids in the cache, least recently used first."""
        return list(self._cache)

    def load(self, source: ModelSource) -> float:
        """Make `source` the most recently used cached model; returns the seconds it took.

        1. A cache hit only refreshes its position.
        2. Otherwise evict least recently used models first, so memory peaks at `cache_size` models.
        3. Load from disk, never from the network. Out of memory while loading: drop every other
           cached model and try once more.
        """
        started = time.perf_counter()
        # 1. Cache hit.
        if source.air in self._cache:
            self._cache.move_to_end(source.air)
            return time.perf_counter() - started

        architecture = ARCHITECTURES.get(source.architecture)
        if architecture is None:
            raise ModelLoadError(f"Unknown architecture {source.architecture!r} for model {source.air}.")
        family = architecture.family
        classes = _pipeline_classes(architecture)  # raises ModelLoadError if unsupported here

        # 2. Make room.
        while len(self._cache) >= self.cache_size:
            self._evict_oldest()

        # 3. Load.
        dtype = self.dtype_for(family)
        try:
            pipe = self._load_pipeline(source, family, classes["text"], dtype)
        except OutOfMemory:
            if not self._cache:
                raise
            while self._cache:
                self._evict_oldest()
            pipe = self._load_pipeline(source, family, classes["text"], dtype)
        pipe.set_progress_bar_config(disable=True)
        self._cache[source.air] = {"text": pipe}
        self._latent_formats[source.air] = latent_format(family, source.path if Path(source.path).is_dir() else None)
        return time.perf_counter() - started

    def _load_pipeline(self, source: ModelSource, family: str, pipeline_class, dtype):
        path = Path(source.path)
        label = ARCHITECTURES[source.architecture].label
        if not path.exists():
            raise ModelLoadError(f"Model {source.air} ({label}): {path} does not exist.")
        try:
            if path.is_dir():
                # No safety checker: it costs memory and blacks out images; a studio leaves that to people.
                extra = {"safety_checker": None, "requires_safety_checker": False} if family == "sd15" else {}
                pipe = pipeline_class.from_pretrained(path, dtype=dtype, local_files_only=True, **extra)
            elif path.suffix == ".safetensors":
                pipe = pipeline_class.from_single_file(
                    str(path), config=source.config_path or None, dtype=dtype, local_files_only=True
                )
            else:
                raise ModelLoadError(
                    f"Model {source.air} ({label}): {path.name} is neither a diffusers folder nor a .safetensors file."
                )
            return pipe.to(self.device)
        except ModelLoadError:
            raise
        except Exception as exc:  # the loaders raise many types; the worker needs one, with the reason
            if _is_oom(exc):
                _free_memory()
                raise OutOfMemory(f"Not enough GPU memory to load {source.air} ({label}).") from exc
            raise ModelLoadError(f"Could not load {source.air} ({label}) from {path}: {exc}") from exc

    def _evict_oldest(self) -> None:
        air, _ = self._cache.popitem(last=False)
        self._latent_formats.pop(air, None)
        self._adapters.pop(air, None)
        self._embeddings.pop(air, None)
        for key in [key for key in self._vaes if key[0] == air]:
            del self._vaes[key]
        _free_memory()

    def loaded_addons(self, air: str) -> dict[str, list[str]]:
        """The add-ons loaded on a cached model, by kind (for tests and the worker's status)."""
        return {"lora": list(self._adapters.get(air, {})), "embeddings": list(self._embeddings.get(air, {})),
                "vae": [vae for model, vae in self._vaes if model == air]}

    # -- Add-ons --------------------------------------------------------------------------------

    def _switch_on_loras(self, air: str, pipe, loras: tuple[AddOn, ...]) -> None:
        """Load each LoRA once per cached model, then activate exactly this job's, with its weights."""
        loaded = self._adapters.setdefault(air, {})
        try:
            for lora in loras:
                if lora.air not in loaded:
                    loaded[lora.air] = addons.load_lora(pipe, lora)
        except Exception:
            # An adapter loaded before the one that failed may be active: switch everything off.
            if loaded:
                pipe.disable_lora()
            raise
        if loras:
            pipe.enable_lora()
            pipe.set_adapters([loaded[lora.air] for lora in loras], [lora.weight for lora in loras])
        elif loaded:
            pipe.disable_lora()

    def _switch_off_loras(self, air: str, pipe) -> None:
        if self._adapters.get(air):
            pipe.disable_lora()

    def _load_embeddings(self, air: str, pipe, family: str, embeddings: tuple[AddOn, ...]) -> None:
        """Each embedding's token is added once per cached model; a token only acts where it is written."""
        loaded = self._embeddings.setdefault(air, {})
        for embedding in embeddings:
            if embedding.air in loaded:
                continue
            if embedding.token in loaded.values():
                raise ValueError(f"Embedding {embedding.air}: token {embedding.token!r} is already taken by another "
                                 "embedding on this model.")
            addons.load_embedding(pipe, embedding, family)
            loaded[embedding.air] = embedding.token

    def _vae_for(self, air: str, pipe, vae: AddOn, family: str):
        key = (air, vae.air)
        if key in self._vaes:
            self._vaes.move_to_end(key)
            return self._vaes[key]
        while len(self._vaes) >= VAE_CACHE_SIZE:
            self._vaes.popitem(last=False)
        module = addons.load_vae(vae, pipe.vae, device=self.device, dtype=pipe.vae.dtype)
        self._vaes[key] = module
        return module

    def _task_pipeline(self, air: str, kind: str):
        """The cached pipeline of `kind` for a loaded model, derived from its components (no reload)."""
        pipelines = self._cache[air]
        if kind not in pipelines:
            pipe = AUTO_PIPELINES[kind].from_pipe(pipelines["text"])
            pipe.set_progress_bar_config(disable=True)
            pipelines[kind] = pipe
        return pipelines[kind]

    # -- Content checks -------------------------------------------------------------------------

    def content_flagged(self, checker_path: str, image: Image.Image) -> bool:
        """Whether the content checker at `checker_path` flags `image`; the checker stays loaded."""
        from generation.safety import ContentChecker

        if self._checker is None or self._checker[0] != checker_path:
            self._checker = (checker_path, ContentChecker(checker_path, device=self.device))
        return self._checker[1].flagged(image)

    # -- Generation -----------------------------------------------------------------------------

    def generate(
        self,
        source: ModelSource,
        inp: GenerationInput,
        *,
        on_step: OnStep,
        should_cancel: Callable[[], bool],
        want_preview: Callable[[], bool] | None = None,
    ) -> Image.Image:
        """Run one generation and return the image (width x height, or the hires fix's upscaled size).

        `want_preview()` is asked at each step (None: always yes); when it says no, `on_step` gets
        None for the preview and not even the latents are copied.

        A job of two passes (`generation.steps.job_plan`) counts one step counter across them: the
        refiner's part of the schedule, or the hires fix's image-to-image pass, goes on at the step
        after the first pass's last, and `total` is the steps of both.

        Raises GenerationCancelled, ModelLoadError, OutOfMemory, or ValueError for bad input.
        """
        # 1. Check inputs and work out how many steps each pass will really run.
        if inp.task_type not in TASK_TYPES:
            raise ValueError(f"Unknown task type {inp.task_type!r}; expected one of {', '.join(TASK_TYPES)}.")
        architecture = ARCHITECTURES.get(source.architecture)
        if architecture is None:
            raise ModelLoadError(f"Unknown architecture {source.architecture!r} for model {source.air}.")
        family = architecture.family
        spec = schedulers.resolve(inp.scheduler, family, default=architecture.default_scheduler)
        strength = 1.0 if inp.task_type == TEXT_TO_IMAGE or inp.strength is None else inp.strength
        plan = job_plan(architecture=source.architecture, task_type=inp.task_type, steps=inp.steps,
                        strength=strength, scheduler_order=spec.order,
                        refiner_start_step=inp.refiner.start_step if inp.refiner else None,
                        hires_steps=inp.hires.steps if inp.hires else None,
                        hires_strength=inp.hires.strength if inp.hires else None)
        if plan.first.steps < 1:
            raise ValueError(f"steps {inp.steps} x strength {strength:g} runs no denoising step.")
        if not 0 <= inp.clip_skip <= MAX_CLIP_SKIP:
            raise ValueError(f"clip_skip must be 0-{MAX_CLIP_SKIP}, not {inp.clip_skip}.")
        if inp.clip_skip and family not in CLIP_FAMILIES:
            raise ValueError(f"clip skip does not apply to {architecture.label}.")
        if inp.prompt_weighting is not None and (inp.prompt_weighting not in PROMPT_WEIGHTING
                                                 or family not in CLIP_FAMILIES):
            raise ValueError(f"prompt weighting {inp.prompt_weighting!r} does not apply to {architecture.label}.")
        if inp.mask_margin is not None and (inp.task_type != INPAINTING or family not in MASK_MARGIN_FAMILIES):
            raise ValueError(f"mask margin applies to inpainting with {', '.join(MASK_MARGIN_FAMILIES)} models.")
        if not 0 <= inp.variation_strength <= 1:
            raise ValueError(f"variation strength must be from 0 to 1, not {inp.variation_strength}.")
        if inp.variation_strength and (inp.task_type != TEXT_TO_IMAGE or inp.variation_seed is None):
            raise ValueError("variations need a variation seed and apply to text to image only.")
        _check_second_pass(inp, family, spec, plan)
        if should_cancel():  # cancelled while waiting: not even worth loading the model
            raise GenerationCancelled("Cancelled before the first step.")

        # 2. The model, with this job's add-ons: LoRAs switched on (and off again in every case),
        # embeddings' tokens, the VAE override.
        self.load(source)
        text_pipe = self._cache[source.air]["text"]
        self._load_embeddings(source.air, text_pipe, family, inp.embeddings)
        vae = self._vae_for(source.air, text_pipe, inp.vae, family) if inp.vae is not None else None
        self._switch_on_loras(source.air, text_pipe, inp.loras)
        common = {"family": family, "spec": spec, "total": plan.steps, "on_step": on_step,
                  "should_cancel": should_cancel, "want_preview": want_preview}
        try:
            # 3. The first pass. With a refiner, the base stops where the refiner takes over and hands
            # it its latents (diffusers' denoising_end).
            kind = PIPELINE_KIND[inp.task_type]
            pipe = self._job_pipeline(source.air, kind, spec, seed=inp.seed, vae=vae)
            scheduler_config = pipe.scheduler.config
            handover = None
            extra: dict[str, Any] = {}
            if inp.refiner is not None:
                handover = _refiner_handover(spec, scheduler_config, steps=inp.steps, start=inp.refiner.start_step)
                extra = {"denoising_end": handover, "output_type": "latent"}
            result = self._run_pass(pipe, source.air, inp, plan.passes[0], strength=strength, extra=extra, **common)

            # 4. Hires fix: Lanczos upscale, then image-to-image over it, with the same model and add-ons.
            if inp.hires is not None:
                if should_cancel():
                    raise GenerationCancelled(f"Cancelled after step {plan.first.steps} of {plan.steps}.")
                width, height = upscaled_size(inp.width, inp.height, upscale=inp.hires.upscale,
                                              multiple=architecture.size_multiple)
                hires_input = dataclasses.replace(
                    inp, task_type=IMAGE_TO_IMAGE, steps=inp.hires.steps, strength=inp.hires.strength,
                    width=width, height=height, hires=None, variation_seed=None, variation_strength=0.0,
                    seed_image=result.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
                pipe = self._job_pipeline(source.air, "image", spec, seed=inp.seed, vae=vae)
                result = self._run_pass(pipe, source.air, hires_input, plan.passes[1], strength=inp.hires.strength,
                                        extra={}, **common)
        finally:
            self._switch_off_loras(source.air, text_pipe)

        # 5. Refiner: the rest of the one schedule on the refiner model, loaded through the same
        # cache (with cache_size 1 it takes the base's place), from the base's latents.
        if inp.refiner is not None:
            if should_cancel():
                raise GenerationCancelled(f"Cancelled after step {plan.first.steps} of {plan.steps}.")
            refiner = inp.refiner.source
            self.load(refiner)
            pipe = self._job_pipeline(refiner.air, "image", spec, seed=inp.seed, vae=None,
                                      scheduler_config=scheduler_config)
            _match_aesthetic_score(pipe)
            # The variation's noise was the first pass's start; the refiner continues from its latents.
            refiner_input = dataclasses.replace(inp, task_type=IMAGE_TO_IMAGE, prompt_weighting=None, embeddings=(),
                                                refiner=None, variation_seed=None, variation_strength=0.0)
            result = self._run_pass(pipe, refiner.air, refiner_input, plan.passes[1], strength=1.0,
                                    extra={"image": result.unsqueeze(0), "denoising_start": handover}, **common)
        return result

    def _job_pipeline(self, air: str, kind: str, spec, *, seed: int, vae, scheduler_config=None):
        """A pipeline of `kind` over a cached model's components, with this job's own fresh scheduler
        (built from `scheduler_config`, else the model's) and VAE, when the job overrides it: the
        cached pipelines keep theirs."""
        task_pipe = self._task_pipeline(air, kind)
        scheduler = schedulers.build(spec, scheduler_config or task_pipe.scheduler.config)
        if hasattr(scheduler, "noise_sampler_seed"):
            # DPM++ SDE draws its Brownian noise from its own seed, random unless set: tie it to the job's.
            scheduler.noise_sampler_seed = seed
        overrides = {"vae": vae} if vae is not None else {}
        pipe = AUTO_PIPELINES[kind].from_pipe(task_pipe, scheduler=scheduler, **overrides)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _run_pass(self, pipe, air: str, inp: GenerationInput, step_pass: Pass, *, family, spec, strength, total,
                  extra: dict, on_step, should_cancel, want_preview):
        """Run one pass of a job on `pipe`; its step k is reported as the job's step offset + k of `total`.

        Returns the finished image, or the latents when `extra` asks for them (the refiner's handover).
        """
        step_plan = step_pass.plan
        # 1. Task inputs (images, masks) and what to do with the result; the prompt as text, or as
        # compel's embeddings when it is weighted.
        if "image" in extra:  # the refiner starts from the base's latents, not from a picture
            kwargs, finish = {"negative_prompt": inp.negative_prompt or None}, _unchanged
        else:
            kwargs, finish = _task_inputs(inp, family, strength)
        kwargs.update(extra)
        prompt_kwargs: dict[str, Any] = {"prompt": inp.prompt}
        if inp.prompt_weighting:
            prompt_kwargs = addons.weighted_prompt_kwargs(
                pipe, family, prompt=inp.prompt, negative_prompt=kwargs.pop("negative_prompt", None),
                syntax=inp.prompt_weighting, clip_skip=inp.clip_skip)
        elif inp.clip_skip and family == "sd15":
            prompt_kwargs = addons.clip_skip_prompt_kwargs(
                pipe, prompt=inp.prompt, negative_prompt=kwargs.pop("negative_prompt", None), clip_skip=inp.clip_skip)
        elif inp.clip_skip:
            prompt_kwargs["clip_skip"] = inp.clip_skip

        # 2. The step callback: map model evaluations to steps, preview, check for cancellation.
        previewer = LatentPreviewer(family, height=inp.height, width=inp.width,
                                    vae_scale_factor=pipe.vae_scale_factor, device=self.device,
                                    latent_format=self._latent_formats[air])
        steps_done = 0

        def callback(pipeline, i, t, callback_kwargs):
            nonlocal steps_done
            # diffusers calls back once per model evaluation: N times for N steps with most
            # schedulers, 2N-1 with order-2 ones (Heun, KDPM2, DPM++ SDE), N+1 with PLMS (PNDM).
            # Step k is done once k/N of the evaluations are: after evaluation 2k for order 2 (the
            # last step is a single evaluation), after k+1 for PLMS (its first step warms up twice).
            # `num_timesteps` is the number of evaluations this run makes (set before the loop).
            step = (i + 1) * step_plan.steps // pipeline.num_timesteps
            if step > steps_done:
                steps_done = step
                latents = callback_kwargs.get("latents")
                wanted = latents is not None and (want_preview is None or want_preview())
                on_step(step_pass.offset + steps_done, total, previewer.pending(latents) if wanted else None)
            if should_cancel():
                pipeline._interrupt = True
            return callback_kwargs

        # 3. Run. A CPU generator gives the same noise for a seed on every machine.
        generator = torch.Generator(device="cpu").manual_seed(inp.seed)
        if inp.variation_strength:
            assert inp.variation_seed is not None  # checked in step 1
            vary_initial_noise(pipe, generator, variation_seed=inp.variation_seed, strength=inp.variation_strength)
        try:
            result = pipe(
                **prompt_kwargs,
                num_inference_steps=inp.steps,
                guidance_scale=inp.cfg_scale,
                generator=generator,
                callback_on_step_end=callback,
                callback_on_step_end_tensor_inputs=["latents"],
                **kwargs,
            ).images[0]
        except Exception as exc:
            if _is_oom(exc):
                _free_memory()
                raise OutOfMemory(
                    f"Out of GPU memory generating {inp.width}x{inp.height}: try a smaller size or fewer images."
                ) from exc
            raise
        # The pipeline stops early on `_interrupt` but still decodes: discard that image.
        if pipe.interrupt:
            raise GenerationCancelled(f"Cancelled after step {step_pass.offset + steps_done} of {total}.")
        if steps_done != step_plan.steps:  # the one step counter must never skip or repeat a step
            raise RuntimeError(f"The {step_pass.name} pass ran {steps_done} steps, not {step_plan.steps}.")

        # 4. Paste back what must not change (inpainting, outpainting).
        return result if kwargs.get("output_type") == "latent" else finish(result)


def _check_second_pass(inp: GenerationInput, family: str, spec, plan: JobPlan) -> None:
    """The hires fix and the refiner follow text-to-image only, one of them at a time."""
    if inp.hires is None and inp.refiner is None:
        return
    if inp.task_type != TEXT_TO_IMAGE:
        raise ValueError("The hires fix and the refiner follow text-to-image only.")
    if inp.hires is not None and inp.refiner is not None:
        raise ValueError("A job runs the hires fix or the refiner, not both.")
    if inp.hires is not None:
        if inp.hires.upscale not in HIRES_UPSCALES:
            raise ValueError(f"hires upscale must be one of {HIRES_UPSCALES}, not {inp.hires.upscale}.")
        if plan.passes[1].plan.steps < 1:
            raise ValueError(f"hires steps {inp.hires.steps} x strength {inp.hires.strength:g} runs no step.")
    if inp.refiner is not None:
        refiner_arch = ARCHITECTURES.get(inp.refiner.source.architecture)
        if family != "sdxl" or refiner_arch is None or refiner_arch.family != "sdxl":
            raise ValueError("The refiner takes an SDXL model after an SDXL model.")
        if spec.order != 1:
            raise ValueError(f"The refiner needs a first-order scheduler; {spec.name} is of order {spec.order}.")
        if not 1 <= inp.refiner.start_step < inp.steps:
            raise ValueError(f"The refiner must start after step 1-{inp.steps - 1}, not {inp.refiner.start_step}.")


def _refiner_handover(spec, scheduler_config, *, steps: int, start: int) -> float:
    """The fraction of the schedule (diffusers' denoising_end, and the refiner's denoising_start) at
    which the base hands over after exactly `start` of `steps` steps.

    diffusers cuts the schedule at a whole timestep: the base runs the timesteps at or above
    round(T - fraction x T), the refiner those below. A fraction of start/steps would not always
    cut after step `start` (leading spacing, Karras sigmas), so the cut is put just above the
    timestep of step start+1 of this scheduler's own schedule.
    """
    probe = schedulers.build(spec, scheduler_config)
    probe.set_timesteps(steps, device="cpu")
    timesteps = [float(t) for t in probe.timesteps]
    if len(timesteps) != steps:
        raise ValueError(f"{spec.name} makes {len(timesteps)} timesteps for {steps} steps; the refiner needs one a "
                         "step.")
    cutoff = math.floor(timesteps[start]) + 1
    if not timesteps[start] < cutoff <= timesteps[start - 1]:
        raise ValueError(f"{spec.name}'s timesteps at steps {start} and {start + 1} are too close to hand over "
                         "between them; start the refiner at another step.")
    train = probe.config.num_train_timesteps
    return (train - cutoff) / train


def _match_aesthetic_score(pipe) -> None:
    """SDXL's refiner conditions on an aesthetic score where the base conditions on the target size:
    tell its image-to-image pipeline which of the two its UNet was trained with."""
    unet = pipe.unet
    projection = pipe.text_encoder_2.config.projection_dim
    expected = unet.add_embedding.linear_1.in_features
    with_score = unet.config.addition_time_embed_dim * 5 + projection
    pipe.register_to_config(requires_aesthetics_score=expected == with_score)


def _task_inputs(inp: GenerationInput, family: str, strength: float):
    """Pipeline keyword arguments for the task, and the function that finishes its result."""
    size = (inp.width, inp.height)
    kwargs: dict[str, Any] = {}
    if family != "flux":
        # FLUX.1 has no negative prompt: its guidance is distilled into the model (cfg_scale sets it).
        kwargs["negative_prompt"] = inp.negative_prompt or None

    if inp.task_type == TEXT_TO_IMAGE:
        return {**kwargs, "width": inp.width, "height": inp.height}, _unchanged

    if inp.seed_image is None:
        raise ValueError(f"{inp.task_type} needs a seed image.")
    seed_image = inp.seed_image.convert("RGB")

    if inp.task_type == IMAGE_TO_IMAGE:
        if seed_image.size != size:
            seed_image = seed_image.resize(size, Image.Resampling.LANCZOS)
        kwargs.update(image=seed_image, strength=strength)
        if is_flow_matching(family):  # their img2img takes the size; SD's reads it from the image
            kwargs.update(width=inp.width, height=inp.height)
        return kwargs, _unchanged

    if inp.task_type == INPAINTING:
        if inp.mask_image is None:
            raise ValueError("inpainting needs a mask image.")
        if seed_image.size != size:
            seed_image = seed_image.resize(size, Image.Resampling.LANCZOS)
        mask = inp.mask_image.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.Resampling.LANCZOS)
        kwargs.update(image=seed_image, mask_image=mask, strength=strength, width=inp.width, height=inp.height)
        if inp.mask_margin:
            # "Only masked": repaint a crop of the mask plus this margin at the full size, pasted back.
            kwargs["padding_mask_crop"] = inp.mask_margin

        def paste_back(result):
            # Unmasked pixels stay the source's exactly, as with A1111's "inpaint full res" off.
            return Image.composite(result.convert("RGB"), seed_image, mask)

        return kwargs, paste_back

    # Outpainting: width x height is the final size; the source fills what the extensions leave.
    ext = inp.outpaint or {}
    top, right, bottom, left = (int(ext.get(side, 0)) for side in ("top", "right", "bottom", "left"))
    source_size = (inp.width - left - right, inp.height - top - bottom)
    if min(source_size) < 1:
        raise ValueError(f"outpaint extensions {ext} leave no room for the source in {inp.width}x{inp.height}.")
    if seed_image.size != source_size:
        seed_image = seed_image.resize(source_size, Image.Resampling.LANCZOS)
    canvas = outpaint.prepare(seed_image, top=top, right=right, bottom=bottom, left=left,
                              blur=int(ext.get("blur", 0)), seed=inp.seed)
    kwargs.update(image=canvas.image, mask_image=canvas.mask, strength=strength, width=inp.width, height=inp.height)
    return kwargs, lambda result: outpaint.composite(result, canvas)


def _unchanged(result):
    return result


def _pipeline_classes(architecture) -> dict:
    """The diffusers classes for an architecture's family, or ModelLoadError naming what is missing."""
    names = PIPELINES.get(architecture.family)
    if names is None:
        raise ModelLoadError(f"{architecture.label} ({architecture.family}) is not supported by this worker.")
    missing = [name for name in names.values() if not hasattr(diffusers, name)]
    if missing:
        raise ModelLoadError(
            f"{architecture.label} is not supported by the installed diffusers {diffusers.__version__}: "
            f"it lacks {', '.join(missing)}."
        )
    return {kind: getattr(diffusers, name) for kind, name in names.items()}


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
