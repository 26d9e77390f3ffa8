"""Walk a ComfyUI graph for what a moderator wants to know: checkpoint, LoRAs, sampler, prompt.

ComfyUI writes two graphs: the API ``prompt`` (node id ->
``{class_type, inputs}``) and the UI ``workflow`` (``nodes`` with ``type`` and
``widgets_values``, plus ``links``). The API graph is preferred because inputs are
named; the UI graph is the fallback when a saver kept only that one.

A graph with no sampling (or hosted-generation) node did not generate the picture:
typically an upscale of an existing image. Upscaling is also done to human work, so
that case is reported as AI-assisted and weak, never as generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Sampling nodes: KSampler, KSamplerAdvanced, SamplerCustom(Advanced), and custom-node
#: variants such as "KSampler (Efficient)".
SAMPLER_RE = re.compile(r"^(?:KSampler|SamplerCustom)|Sampler(?:Custom)?\b|\bKSampler", re.I)
#: Nodes that produce an image from a hosted model with no local sampler (API nodes).
HOSTED_GENERATION_RE = re.compile(
    r"(OpenAI(?:Dalle|GPTImage)|Flux(?:Pro|Kontext).*Node|Ideogram|Recraft.*(?:Image|Generate)"
    r"|StabilityStableImage|Luma.*Image|Gemini.*Image|Kling.*Image|Runway.*Image|Imagen)",
    re.I,
)
UPSCALE_RE = re.compile(r"upscal|ImageScale|LatentUpscale", re.I)
LOADER_INPUTS = ("ckpt_name", "unet_name", "model_name", "base_ckpt_name", "gguf_name")
LOADER_RE = re.compile(r"Checkpoint|UNET|Unet|Diffusers.*Loader|GGUF", re.I)
LORA_RE = re.compile(r"Lora|LoRA|LyCORIS", re.I)
TEXT_ENCODE_RE = re.compile(r"CLIPTextEncode|TextEncode|PromptStyler|Prompt", re.I)
TEXT_INPUTS = ("text", "text_g", "text_l", "prompt", "positive", "clip_l", "t5xxl")
MAX_NODES = 5000


@dataclass
class ComfyRecord:
    """What a ComfyUI graph says. ``prompts`` stay private."""

    checkpoints: list[str] = field(default_factory=list)
    loras: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    samplers: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    node_classes: list[str] = field(default_factory=list)
    hosted: list[str] = field(default_factory=list)
    has_upscale: bool = False
    has_load_image: bool = False

    @property
    def generates(self) -> bool:
        """A sampler or a hosted-generation node means the graph made the picture."""
        return bool(self.samplers or self.hosted)


def is_api_graph(obj: Any) -> bool:
    """True for ``{"<id>": {"class_type": ..., "inputs": {...}}, ...}``."""
    if not isinstance(obj, dict) or not obj:
        return False
    typed = sum(isinstance(v, dict) and "class_type" in v for v in obj.values())
    # Civitai adds "extra"/"extraMetadata" keys to a real graph; a record with one stray
    # "class_type" among many plain settings is not a graph.
    return typed >= max(1, (len(obj) + 1) // 2)


def is_ui_workflow(obj: Any) -> bool:
    """True for the UI workflow: ``{"nodes": [{"type": ...}], "links": [...]}``."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("nodes"), list)
        and ("links" in obj or "last_node_id" in obj)
    )


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _name(value: Any) -> str:
    """Model names are plain strings; a list is a link to another node, not a name."""
    return value.strip() if isinstance(value, str) else ""


def _add_unique(items: list[str], value: str) -> None:
    if value and value not in items:
        items.append(value)


def _visit(record: ComfyRecord, cls: str, inputs: dict[str, Any]) -> None:
    _add_unique(record.node_classes, cls)
    if UPSCALE_RE.search(cls):
        record.has_upscale = True
    if cls in ("LoadImage", "LoadImageMask", "Load Image", "ETN_LoadImageBase64"):
        record.has_load_image = True
    if HOSTED_GENERATION_RE.search(cls):
        _add_unique(record.hosted, cls)
    if LORA_RE.search(cls) and "lora_name" in inputs:
        name = _name(inputs.get("lora_name"))
        if name and name.lower() != "none":
            record.loras.append(
                (name, _num(inputs.get("strength_model")), _num(inputs.get("strength_clip")))
            )
        return
    if LOADER_RE.search(cls) or "Loader" in cls:
        for key in LOADER_INPUTS:
            _add_unique(record.checkpoints, _name(inputs.get(key)))
    if SAMPLER_RE.search(cls) and not cls.endswith("Select"):
        sampler = {
            k: inputs[k]
            for k in ("sampler_name", "scheduler", "steps", "cfg", "denoise")
            if isinstance(inputs.get(k), str | int | float)
        }
        sampler["class_type"] = cls
        record.samplers.append(sampler)
    elif cls in ("KSamplerSelect", "BasicScheduler") and record.samplers:
        # SamplerCustom* takes these by link; fill in what the sampler node lacks.
        for key in ("sampler_name", "scheduler", "steps"):
            value = inputs.get(key)
            if isinstance(value, str | int):
                record.samplers[-1].setdefault(key, value)
    if TEXT_ENCODE_RE.search(cls):
        for key in TEXT_INPUTS:
            text = inputs.get(key)
            if isinstance(text, str) and text.strip():
                _add_unique(record.prompts, text)


def _visit_order(cls: str) -> int:
    """Samplers first, then their helper nodes, so helpers can fill in the sampler."""
    if cls in ("KSamplerSelect", "BasicScheduler"):
        return 1
    return 0 if SAMPLER_RE.search(cls) else 2


def parse_api_graph(graph: dict[str, Any]) -> ComfyRecord:
    """Walk an API ``prompt`` graph."""
    record = ComfyRecord()
    # KSamplerSelect feeds SamplerCustom*; visit samplers first so the name attaches.
    nodes = [n for n in list(graph.values())[:MAX_NODES] if isinstance(n, dict)]
    nodes.sort(key=lambda n: _visit_order(str(n.get("class_type", ""))))
    for node in nodes:
        cls = node.get("class_type")
        inputs = node.get("inputs")
        if isinstance(cls, str):
            _visit(record, cls, inputs if isinstance(inputs, dict) else {})
    return record


#: Positional widget meaning for the core nodes, used only with the UI workflow.
UI_WIDGETS: dict[str, tuple[str, ...]] = {
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CheckpointLoader": ("config_name", "ckpt_name"),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler",
                 "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg",
                         "sampler_name", "scheduler"),
    "KSamplerSelect": ("sampler_name",),
    "CLIPTextEncode": ("text",),
}


def parse_ui_workflow(workflow: dict[str, Any]) -> ComfyRecord:
    """Walk a UI ``workflow``; widget positions are only known for core nodes."""
    record = ComfyRecord()
    nodes = [n for n in workflow.get("nodes", [])[:MAX_NODES] if isinstance(n, dict)]
    nodes.sort(key=lambda n: _visit_order(str(n.get("type", ""))))
    for node in nodes:
        cls = node.get("type")
        if not isinstance(cls, str):
            continue
        widgets = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        if isinstance(widgets, dict):
            inputs = widgets
        elif isinstance(widgets, list):
            inputs = dict(zip(UI_WIDGETS.get(cls, ()), widgets, strict=False))
        _visit(record, cls, inputs)
    return record
