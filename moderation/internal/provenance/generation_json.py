"""Generation data written as JSON by tools that have no marker of their own.

Two shapes went through as "no provenance metadata" before this module:

* ComfyUI graphs behind a wrapper. Custom save nodes write
  ``{"prompt": <API graph>, "workflow": <UI workflow>}`` into the EXIF ``UserComment`` of
  JPEG and WebP files; either value may itself be a JSON string, and either may be missing.
* Generic generation records, as Gradio-based apps write them into a ``parameters`` chunk:
  ``{"prompt": ..., "negative_prompt": ..., "sampler": ..., "seed": ..., "Model": ...}``.
  No tool name is written, so the record is recognised by its key set: a prompt **and** at
  least two of the sampler / steps / seed / guidance / model groups. A prompt alone is
  prose a person may write (a caption, an alt text); a prompt with sampling settings is
  the output of a diffusion sampler.

A record that names no tool is still named: by the model family its checkpoint belongs to
(``"Model": "sdxl_base"`` -> Stable Diffusion XL, see :data:`MODEL_FAMILIES`), else by the
checkpoint itself, so the label says which model made the picture.

Keys are compared after folding case and dropping punctuation (``CFG scale``, ``cfg_scale``
and ``cfgScale`` are one key). Pure functions over parsed JSON; no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from moderation.internal.provenance import comfyui
from moderation.internal.provenance.limits import load_json_limited

#: Normalised prompt keys.
PROMPT_KEYS = frozenset({"prompt", "positiveprompt", "fullprompt", "positive", "textprompt"})
#: Normalised key groups; a record needs keys from at least :data:`MIN_GROUPS` of them.
SETTING_GROUPS: dict[str, frozenset[str]] = {
    "sampler": frozenset({"sampler", "samplername", "samplingmethod", "scheduler",
                          "noisescheduler"}),
    "steps": frozenset({"steps", "numinferencesteps", "samplingsteps", "numsteps"}),
    "seed": frozenset({"seed", "noiseseed", "randomseed"}),
    "cfg": frozenset({"cfg", "cfgscale", "guidancescale", "guidance", "cfgrescale"}),
    "model": frozenset({"model", "modelname", "ckptname", "checkpoint", "basemodel",
                        "sdmodelcheckpoint", "modelhash", "sdmodelhash", "unetname"}),
}
MIN_GROUPS = 2
#: Keys under which some tools nest the record one level down.
NESTED_KEYS = ("parameters", "params", "meta", "generation", "generation_data",
               "generationData", "metadata", "settings")
#: Keys that name the writing tool when a generic record has one.
TOOL_KEYS = ("software", "Software", "app", "App", "generator", "Generator", "tool")

_FOLD_RE = re.compile(r"[^a-z0-9]")

#: Checkpoint-name patterns (searched in the lower-cased name) and the family they name,
#: most specific first: fine-tunes say their base (``ponyDiffusionV6XL`` is SDXL-based,
#: but Pony is what its users call it).
MODEL_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), family) for pattern, family in (
        (r"pony", "Pony Diffusion (SDXL)"),
        (r"illustrious|noobai|noob_?ai", "Illustrious XL (SDXL)"),
        (r"animagine", "Animagine XL (SDXL)"),
        (r"flux", "FLUX.1"),
        (r"sd3|sd_3|stable[-_ ]?diffusion[-_ ]?3|sd35", "Stable Diffusion 3"),
        (r"hunyuan", "Hunyuan-DiT"),
        (r"kolors", "Kolors"),
        (r"pixart", "PixArt"),
        (r"auraflow", "AuraFlow"),
        (r"hidream", "HiDream"),
        (r"qwen[-_ ]?image", "Qwen-Image"),
        (r"sdxl|(?:^|[^a-z])xl(?:[^a-z]|$)|xl(?:_|-)?v?\d|[a-z]xl(?:$|[^a-z])",
         "Stable Diffusion XL"),
        (r"sd[-_ ]?2|v2[-_ ]?[01]|stable[-_ ]?diffusion[-_ ]?2", "Stable Diffusion 2.x"),
        (r"sd[-_ ]?1|v1[-_ ]?[45]|stable[-_ ]?diffusion[-_ ]?(?:v?1)", "Stable Diffusion 1.x"),
    ))


def fold(key: str) -> str:
    """``"CFG scale"`` -> ``"cfgscale"``: the spelling-independent form of a key."""
    return _FOLD_RE.sub("", key.lower())


def _maybe_json(value: Any) -> Any:
    """A dict as is; a string holding a JSON object parsed (with the shared limits)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip()[:1] == "{":
        try:
            return load_json_limited(value)
        except ValueError:
            return None
    return None


def unwrap_comfy(obj: Any) -> tuple[Any, Any] | None:
    """Return ``(api_graph, ui_workflow)`` when ``obj`` carries a ComfyUI graph.

    Accepts a bare API graph, a bare UI workflow and the ``{"prompt": …, "workflow": …}``
    wrapper (values as objects or JSON strings, key case ignored). None otherwise.
    """
    if not isinstance(obj, dict):
        return None
    if comfyui.is_api_graph(obj):
        return obj, None
    if comfyui.is_ui_workflow(obj):
        return None, obj
    by_fold = {fold(str(k)): v for k, v in list(obj.items())[:64]}
    prompt = _maybe_json(by_fold.get("prompt"))
    workflow = _maybe_json(by_fold.get("workflow"))
    api = prompt if comfyui.is_api_graph(prompt) else None
    if comfyui.is_ui_workflow(prompt) and workflow is None:
        workflow = prompt
    ui = workflow if comfyui.is_ui_workflow(workflow) else None
    if api is None and ui is None:
        return None
    return api, ui


def prompt_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # InvokeAI-style [{"prompt": "...", "weight": 1}]
        parts = [str(v.get("prompt", "")) for v in value[:50]
                 if isinstance(v, dict) and isinstance(v.get("prompt"), str)]
        return " ".join(p for p in parts if p)
    return ""


def record_prompt(record: dict[str, Any]) -> str:
    """The record's (first non-empty) prompt."""
    for key, value in list(record.items())[:500]:
        if fold(str(key)) in PROMPT_KEYS:
            text = prompt_text(value)
            if text.strip():
                return text
    return ""


def generation_groups(obj: dict[str, Any]) -> list[str]:
    """The setting groups ``obj`` has keys from (scalar or named values only)."""
    folded = {fold(str(k)) for k, v in list(obj.items())[:500]
              if isinstance(v, str | int | float | dict) and not isinstance(v, bool)
              and v != ""}
    return [name for name, keys in SETTING_GROUPS.items() if folded & keys]


def find_generation_record(obj: Any) -> dict[str, Any] | None:
    """Return the generic generation record in ``obj`` (itself or one nesting level down).

    A record is a dict with a non-empty prompt and keys of at least :data:`MIN_GROUPS`
    setting groups. ComfyUI graphs are not records (see :func:`unwrap_comfy`).
    """
    if not isinstance(obj, dict) or unwrap_comfy(obj) is not None:
        return None
    candidates = [obj] + [obj[k] for k in NESTED_KEYS if isinstance(obj.get(k), dict)]
    for candidate in candidates:
        if record_prompt(candidate) and len(generation_groups(candidate)) >= MIN_GROUPS:
            return candidate
    return None


def tool_name(record: dict[str, Any], outer: dict[str, Any] | None = None) -> str:
    """The tool a generic record names for itself, if any (``software``, ``app``…)."""
    for source in (record, outer or {}):
        for key in TOOL_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return ""


def folded_get(record: dict[str, Any], keys: frozenset[str]) -> Any:
    """The first value of ``record`` whose folded key is in ``keys``."""
    for key, value in record.items():
        if fold(str(key)) in keys:
            return value
    return None


def scalar_settings(record: dict[str, Any]) -> dict[str, Any]:
    """The record's generation settings (every group's keys), scalar values only."""
    wanted = frozenset().union(*SETTING_GROUPS.values()) | {"width", "height", "size",
                                                             "denoisingstrength"}
    out: dict[str, Any] = {}
    for key, value in record.items():
        if fold(str(key)) in wanted and isinstance(value, str | int | float) \
                and not isinstance(value, bool):
            out[str(key)[:100]] = value
    return out



def checkpoint_name(value: str) -> str:
    """``models/Stable-diffusion/sdxl_base.safetensors [31e35c80fc]`` -> ``sdxl_base``."""
    name = re.sub(r"\s*\[[0-9a-fA-F]{6,}\]\s*$", "", value.strip())
    name = re.split(r"[\\/]", name)[-1]
    return re.sub(r"\.(?:safetensors|ckpt|pt|pth|bin|gguf|sft)$", "", name,
                  flags=re.IGNORECASE)[:200]


def model_family(value: str) -> str:
    """The model family a checkpoint name belongs to, or "" when it says none."""
    name = checkpoint_name(value).lower()
    for pattern, family in MODEL_FAMILIES:
        if pattern.search(name):
            return family
    return ""


def generator_of(model: str) -> str:
    """What to call the generator of a record that names no tool: the family of its
    checkpoint, else the checkpoint itself, else ""."""
    if not model.strip():
        return ""
    return model_family(model) or checkpoint_name(model) or model.strip()[:200]
