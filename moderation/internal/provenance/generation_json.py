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

