"""Generator metadata: the records local and hosted AI tools write into their files.

Entry point :func:`read_generator_metadata` collects text from PNG chunks (including
chunks after IDAT), EXIF fields and stealth pixel bits, and hands each piece to the
reader that knows its format: A1111-family ``parameters``, ComfyUI graphs, NovelAI
(with its Ed25519 signature), InvokeAI, Fooocus, SwarmUI, Stability Matrix, Tensor.Art,
Easy Diffusion, Civitai, Midjourney, and free-text software strings from the table.

Strengths: a verifying NovelAI signature is proof (it binds the pixels and is checked
offline); structured tool records are strong, since people rarely add them to their own
work; free-text strings are weak; upscale-only records (A1111 extras, ComfyUI graphs
without a sampler) are AI-assisted and weak because they are written for human images
too. Prompts only ever go into ``private``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from moderation.constants import EvidenceLabel, Strength
from moderation.evidence import ImageInput
from moderation.internal.provenance import a1111, comfyui, generation_json, novelai
from moderation.internal.provenance.exif import XP_FIELDS, read_exif_text
from moderation.internal.provenance.findings import Finding
from moderation.internal.provenance.generator_table import (
    GeneratorTable,
    load_generator_table,
)
from moderation.internal.provenance.limits import (
    cap_text,
    field_limit,
    load_json_limited,
    total_limit,
)
from moderation.internal.provenance.pngchunks import is_png, read_png_text
from moderation.internal.provenance.stealth import read_stealth
from moderation.internal.provenance.xmp import XmpProperties, XmpRefused, find_packets, parse_packet

__all__ = ["GeneratorTable", "load_generator_table", "read_generator_metadata"]

AI = EvidenceLabel.AI.value
ASSISTED = EvidenceLabel.AI_ASSISTED.value
PROOF, STRONG, WEAK = Strength.PROOF.value, Strength.STRONG.value, Strength.WEAK.value

#: Prompt-like keys in JSON records, in order of preference.
PROMPT_KEYS = ("prompt", "Prompt", "positive_prompt", "positivePrompt", "full_prompt",
               "Full Prompt")
NEGATIVE_KEYS = ("negative_prompt", "negativeprompt", "negativePrompt", "Negative Prompt",
                 "full_negative_prompt", "uc")
MODEL_KEYS = ("model", "Model", "base_model", "Base Model", "model_name", "baseModel",
              "use_stable_diffusion_model", "model_weights", "ckpt_name", "base_model_name")
LORA_KEYS = ("loras", "LoRAs", "lora", "Loras", "lora_name")
SETTING_KEYS = ("sampler", "Sampler", "sampler_name", "scheduler", "Scheduler", "steps",
                "Steps", "cfg_scale", "cfgscale", "Guidance Scale", "guidance_scale",
                "seed", "Seed", "Performance", "Version", "version", "swarm_version",
                "generation_mode", "num_inference_steps", "width", "height", "scale",
                "noise_schedule", "request_type", "app_version")
#: EXIF fields ComfyUI's savers use for graphs, with the prefixes they write.
COMFY_EXIF_PREFIXES = ("prompt:", "workflow:", "Prompt:", "Workflow:")
#: Free-text fields that may hold a prompt rather than a tool name.
PROSE_FIELDS = frozenset({"Description", "Title", "Comment", "ImageDescription"})
#: The PNG keyword of an XMP packet (iTXt).
XMP_PNG_KEYWORD = "XML:com.adobe.xmp"
#: Entries kept per stored dict/list (settings, sampler lists...).
MAX_ITEMS = 200
#: Formats that can carry stealth bits losslessly enough to read.
STEALTH_FORMATS = ("PNG", "WEBP", "TIFF")


class _Collector:
    """Builds findings, capping every stored string and the total private text."""

    def __init__(self, table: GeneratorTable) -> None:
        self.table = table
        self.findings: list[Finding] = []
        self.errors: list[str] = []
        self.budget = total_limit()

    def _cap(self, value: Any, flags: list[bool]) -> Any:
        if isinstance(value, str):
            text, cut = cap_text(value, min(field_limit(), max(self.budget, 0)))
            self.budget -= len(text)
            flags.append(cut)
            return text
        if isinstance(value, dict):
            flags.append(len(value) > MAX_ITEMS)
            return {str(k)[:200]: self._cap(v, flags)
                    for k, v in list(value.items())[:MAX_ITEMS]}
        if isinstance(value, list | tuple):
            flags.append(len(value) > MAX_ITEMS)
            return [self._cap(v, flags) for v in list(value)[:MAX_ITEMS]]
        if isinstance(value, bool | int | float) or value is None:
            return value
        return self._cap(str(value), flags)

    def add(self, *, source: str, reason: str, label: str, strength: str,
            params: dict[str, str] | None = None,
            generator: str = "", model: str = "", loras: tuple[str, ...] = (),
            details: dict[str, Any] | None = None,
            private: dict[str, Any] | None = None) -> None:
        flags: list[bool] = []
        clean_details = self._cap(dict(details or {}), flags)
        clean_private = self._cap({k: v for k, v in (private or {}).items() if v}, flags)
        if any(flags):
            clean_details["truncated"] = True
        self.findings.append(Finding(
            source=source, reason=reason, label=label, strength=strength,
            params={k: cap_text(str(v), 200)[0] for k, v in (params or {}).items()},
            generator=cap_text(generator, 200)[0],
            model=cap_text(model, 500)[0], loras=tuple(cap_text(n, 300)[0] for n in loras[:50]),
            details=clean_details, private=clean_private,
        ))


# ---------------------------------------------------------------------------- helpers


def _json(text: str) -> Any:
    """Parse JSON with the shared depth/size limits; None for anything not JSON."""
    text = text.strip()
    if not text or text[0] not in "{[":
        return None
    try:
        return load_json_limited(text)
    except ValueError:
        return None


def _first_str(obj: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            for sub in ("name", "model_name", "modelFileName", "key", "title"):
                if isinstance(value.get(sub), str) and value[sub].strip():
                    return str(value[sub])
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # InvokeAI v2: [{"prompt": "...", "weight": 1}]
            parts = [str(v.get("prompt", "")) for v in value if v.get("prompt")]
            if parts:
                return " ".join(parts)
    return ""


def _lora_names(obj: dict[str, Any]) -> list[str]:
    """LoRA names from the list shapes tools use (strings, dicts, "name : weight")."""
    names: list[str] = []
    for key in LORA_KEYS:
        value = obj.get(key)
        items = value if isinstance(value, list) else [value] if value else []
        for item in items[:50]:
            name = ""
            if isinstance(item, str):
                name = item.split(" : ")[0].strip()
            elif isinstance(item, list | tuple) and item and isinstance(item[0], str):
                name = item[0]
            elif isinstance(item, dict):
                inner = item.get("lora") or item.get("model") or item
                if isinstance(inner, dict):
                    name = str(inner.get("name") or inner.get("model_name") or
                               inner.get("key") or "")
                elif isinstance(inner, str):
                    name = inner
            if name and name.lower() != "none" and name not in names:
                names.append(name)
    return names


def _split_private(settings: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Move prompt-bearing settings ("ADetailer prompt", "Hires prompt", Dynamic Prompts'
    "Template") out of what moderators without the permission may see."""
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for key, value in settings.items():
        lowered = key.lower()
        target = private if ("prompt" in lowered or "template" in lowered) else public
        target[key] = value
    return public, private


def _settings(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in SETTING_KEYS if isinstance(obj.get(k), str | int | float)}


# ---------------------------------------------------------------------------- readers


def _add_a1111(c: _Collector, source: str, text: str, generator: str = "") -> bool:
    record = a1111.parse_parameters(text)
    if record is None:
        extras = a1111.parse_extras(text)
        if extras is None:
            return False
        public, hidden = _split_private(extras)
        c.add(source=source, reason="a1111_extras", label=ASSISTED, strength=WEAK,
              generator="Stable Diffusion WebUI", details={"settings": public},
              private={"settings": hidden})
        return True
    app = generator or record.app
    if "Civitai resources" in record.settings or "Civitai metadata" in record.settings:
        app = "Civitai"
    loras = tuple(name for name, _w in record.loras)
    public, hidden = _split_private(record.settings)
    c.add(source=source, reason="a1111_parameters", label=AI, strength=STRONG,
          params={"app": app},
          generator=app, model=record.model, loras=loras,
          details={"settings": public,
                   "lora_weights": {n: w for n, w in record.loras if w is not None}},
          private={"prompt": record.prompt, "negative_prompt": record.negative_prompt,
                   "settings": hidden})
    return True


def _add_comfy(c: _Collector, source: str, prompt_obj: Any, workflow_obj: Any,
               generator: str = "ComfyUI", reason: str = "comfyui_graph") -> bool:
    if comfyui.is_api_graph(prompt_obj):
        record = comfyui.parse_api_graph(prompt_obj)
    elif comfyui.is_ui_workflow(workflow_obj):
        record = comfyui.parse_ui_workflow(workflow_obj)
    elif comfyui.is_ui_workflow(prompt_obj):
        record = comfyui.parse_ui_workflow(prompt_obj)
    else:
        return False
    model = record.checkpoints[0] if record.checkpoints else ""
    details: dict[str, Any] = {
        "checkpoints": record.checkpoints, "samplers": record.samplers[:10],
        "lora_strengths": [[n, m, cl] for n, m, cl in record.loras],
        "node_count": len(record.node_classes), "hosted_nodes": record.hosted,
        "has_workflow": workflow_obj is not None,
    }
    loras = tuple(dict.fromkeys(n for n, _m, _c in record.loras))
    if record.generates:
        c.add(source=source, reason=reason, label=AI, strength=STRONG,
              params={"app": generator},
              generator=generator, model=model,
              loras=loras, details=details, private={"prompts": record.prompts})
    else:
        reason = "comfyui_upscale_only" if record.has_upscale else "comfyui_no_sampler"
        c.add(source=source, reason=reason, label=ASSISTED, strength=WEAK,
              generator=generator, model=model, loras=loras, details=details)
    return True


def _add_json_record(c: _Collector, source: str, obj: dict[str, Any],
                     generator: str, reason: str) -> None:
    """A structured JSON record of a known tool: strong, with what it names."""
    params = obj.get("sui_image_params")
    inner: dict[str, Any] = params if isinstance(params, dict) else obj
    loras = _lora_names(inner)
    if not loras and isinstance(obj.get("resource-stack"), dict):
        loras = [str(k) for k in obj["resource-stack"] if "lora" in str(k).lower()]
    c.add(source=source, reason=reason, label=AI, strength=STRONG,
          params={"app": generator},
          generator=generator, model=_first_str(inner, MODEL_KEYS), loras=tuple(loras),
          details={"settings": _settings(inner)},
          private={"prompt": _first_str(inner, PROMPT_KEYS),
                   "negative_prompt": _first_str(inner, NEGATIVE_KEYS)})


def _is_fooocus(c: _Collector, obj: dict[str, Any], scheme_present: bool) -> bool:
    """Fooocus JSON: several Fooocus-only keys, or a Fooocus version. A GIMP ``Comment``
    ("Created with GIMP") is not JSON at all and never gets here (sd-prompt-reader trap)."""
    hits = len(c.table.fooocus_keys & obj.keys())
    version = str(obj.get("Version") or obj.get("version") or "")
    return hits >= 2 or (hits >= 1 and scheme_present) or version.lower().startswith(
        ("fooocus", "ruinedfooocus"))


def _add_parameters_json(c: _Collector, source: str, obj: Any, scheme_present: bool) -> bool:
    """``parameters``/UserComment holding JSON: SwarmUI, Fooocus, Civitai, Easy Diffusion..."""
    if not isinstance(obj, dict):
        return False
    marker = c.table.json_marker(obj)
    graphs = generation_json.unwrap_comfy(obj)
    if graphs is not None:
        # Bare graphs, or {"prompt": graph, "workflow": ui} as custom save nodes write them.
        # Civitai's generator embeds a ComfyUI graph plus its own "resource-stack" nodes.
        api, ui = graphs
        if marker is not None:
            return _add_comfy(c, source, api, ui, marker.generator, marker.reason)
        return _add_comfy(c, source, api, ui)
    if marker is not None:
        _add_json_record(c, source, obj, marker.generator, marker.reason)
        return True
    software = obj.get("software") or obj.get("Software")
    named = c.table.match_software(software) if isinstance(software, str) else None
    if named is not None:  # e.g. RuinedFooocus: {"Prompt": ..., "software": "RuinedFooocus"}
        _add_json_record(c, source, obj, named.generator, "generator_metadata")
        return True
    if _is_fooocus(c, obj, scheme_present):
        name = "RuinedFooocus" if "Prompt" in obj and "base_model" not in obj and \
            "Base Model" not in obj else "Fooocus"
        _add_json_record(c, source, obj, name, "fooocus_metadata")
        return True
    return _add_generic_json(c, source, obj)


def _add_generic_json(c: _Collector, source: str, obj: dict[str, Any]) -> bool:
    """A JSON record of no known tool, recognised by its key set (prompt + settings)."""
    record = generation_json.find_generation_record(obj)
    if record is None:
        return False
    named = generation_json.tool_name(record, obj)
    pattern = c.table.match_software(named) if named else None
    generator = pattern.generator if pattern is not None else named
    model_value = generation_json.folded_get(record, generation_json.SETTING_GROUPS["model"])
    model = _first_str({"m": model_value}, ("m",)) if model_value is not None else ""
    family = generation_json.model_family(model) if model else ""
    if not generator:
        # No tool named: the checkpoint says which model made it (as A1111 text does).
        generator = generation_json.generator_of(model)
    prompt = generation_json.record_prompt(record)
    negative = _first_str(record, NEGATIVE_KEYS)
    c.add(source=source, reason="generation_json", label=AI, strength=STRONG,
          params={"app": generator} if generator else {},
          generator=generator, model=model, loras=tuple(_lora_names(record)),
          details={"settings": generation_json.scalar_settings(record),
                   "groups": generation_json.generation_groups(record),
                   "model_family": family},
          private={"prompt": prompt, "negative_prompt": negative})
    return True


def _add_any_text(c: _Collector, source: str, text: str) -> bool:
    """A free text field of any container: generation JSON, or A1111 parameters text.

    Stricter than :func:`_add_text_value`: an "extras" word in a caption is not a record,
    so only a full A1111 settings line counts here.
    """
    obj = _json(text)
    if obj is not None:
        return _add_parameters_json(c, source, obj, False)
    if a1111.looks_like_parameters(text):
        return _add_a1111(c, source, text)
    return False


def _add_text_value(c: _Collector, source: str, text: str, scheme_present: bool) -> bool:
    """A ``parameters``-like value: JSON record or A1111 text (Fooocus' a1111 scheme)."""
    obj = _json(text)
    if obj is not None:
        return _add_parameters_json(c, source, obj, scheme_present)
    return _add_a1111(c, source, text, "Fooocus" if scheme_present else "")


def _add_novelai(c: _Collector, source: str, record: novelai.NovelAIRecord,
                 rgb: Callable[[], bytes | None], public_key: str) -> None:
    details: dict[str, Any] = {"source_model": record.source,
                               "title": record.fields.get("Title", "")}
    if record.comment:
        details["settings"] = _settings(record.comment)
    private = {"prompt": record.prompt, "negative_prompt": record.negative_prompt}
    model = record.source
    if record.signed_hash is not None and record.comment is not None:
        pixels = rgb()
        if pixels is not None and novelai.verify_signature(pixels, record.comment, public_key):
            c.add(source=source, reason="novelai_signature_verified", label=AI, strength=PROOF,
                  generator="NovelAI", model=model, details=details, private=private)
            return
        details["signature"] = "unverifiable" if pixels is None else "invalid"
        c.add(source=source, reason="novelai_metadata", label=AI, strength=STRONG,
              generator="NovelAI", model=model, details=details, private=private)
        return
    c.add(source=source, reason="novelai_metadata", label=AI, strength=STRONG,
          generator="NovelAI", model=model,
          details=details, private=private)


def _add_keyed(c: _Collector, key: str, text: str) -> bool:
    """PNG keywords only one tool writes (InvokeAI, Stability Matrix, Tensor.Art...)."""
    spec = c.table.keys.get(key)
    if spec is None:
        return False
    source = f"png:{key}"
    obj = _json(text)
    if spec.parser == "marker" or (spec.parser != "dream" and not isinstance(obj, dict)):
        c.add(source=source, reason="generator_key", label=AI, strength=STRONG,
              params={"app": spec.generator},
              generator=spec.generator, details={"key": key})
        return True
    if spec.parser == "dream":
        c.add(source=source, reason="invokeai_metadata", label=AI, strength=STRONG,
              params={"app": spec.generator},
              generator=spec.generator, details={"key": key}, private={"prompt": text})
        return True
    if not isinstance(obj, dict):  # "dream" was handled above; this narrows the type
        return False
    image_part = obj.get("image")
    inner: dict[str, Any] = (
        image_part if spec.parser == "invokeai_v2" and isinstance(image_part, dict) else obj
    )
    model = _first_str(inner, MODEL_KEYS) or _first_str(obj, MODEL_KEYS)
    reason = "invokeai_metadata" if spec.generator == "InvokeAI" else "generator_metadata"
    c.add(source=source, reason=reason, label=AI, strength=STRONG,
          params={"app": spec.generator},
          generator=spec.generator, model=model, loras=tuple(_lora_names(inner)),
          details={"key": key, "settings": _settings(inner)},
          private={"prompt": _first_str(inner, PROMPT_KEYS),
                   "negative_prompt": _first_str(inner, NEGATIVE_KEYS)})
    return True


def _add_strings(c: _Collector, prefix: str, fields: dict[str, str]) -> None:
    """Free-text software/credit strings (weak) and structured descriptions (Midjourney)."""
    for name, value in fields.items():
        if not value:
            continue
        if name in PROSE_FIELDS:
            pattern = c.table.match_description(value)
            if pattern is not None:
                c.add(source=f"{prefix}:{name}", reason=pattern.reason, label=pattern.label,
                      strength=pattern.strength,
                      params={"app": pattern.generator, "field": name},
                      generator=pattern.generator, private={"prompt": value})
                continue
        if name not in c.table.software_fields:
            continue
        pattern = c.table.match_software(value[:1000])
        if pattern is None:
            continue
        # Tool names are public; a description or title may be a prompt, so it is private.
        prose = name in PROSE_FIELDS
        c.add(source=f"{prefix}:{name}", reason=pattern.reason, label=pattern.label,
              strength=pattern.strength,
              params={"app": pattern.generator, "field": name},
              generator=pattern.generator,
              details={"field": name} if prose else {"field": name, "value": value[:300]},
              private={"text": value} if prose else None)


# ----------------------------------------------------------------------- per container


def _read_png(c: _Collector, data: bytes, rgb: Callable[[], bytes | None], key: str) -> None:
    png = read_png_text(data)
    c.errors.extend(png.errors)
    fields = png.as_dict()
    after = sorted({ch.keyword for ch in png.chunks if ch.after_idat})
    scheme = "fooocus_scheme" in fields
    handled: set[str] = set()
    if novelai.looks_like_novelai(fields):
        _add_novelai(c, "png:Comment", novelai.record_from_fields(fields), rgb, key)
        handled |= {"Software", "Source", "Title", "Description", "Comment"}
    prompt_obj = _json(fields.get("prompt", ""))
    workflow_obj = _json(fields.get("workflow", ""))
    if _add_comfy(c, "png:prompt" if prompt_obj is not None else "png:workflow",
                  prompt_obj, workflow_obj):
        handled |= {"prompt", "workflow"}
    for name in ("parameters", "Comment"):
        if name in fields and name not in handled:
            source = f"png:{name}"
            value = fields[name]
            if name == "Comment" and _json(value) is None:
                continue  # GIMP and others write free text here; only JSON counts.
            if _add_text_value(c, source, value, scheme):
                handled.add(name)
    for name in ("postprocessing", "extras"):
        if name in fields and _add_a1111(c, f"png:{name}", fields[name]):
            handled.add(name)
    for name, value in fields.items():
        if name not in handled and _add_keyed(c, name, value):
            handled.add(name)
    if "prompt" in fields and "prompt" not in handled:
        obj = _json(fields["prompt"])
        if not isinstance(obj, dict) and ("negative_prompt" in fields or "seed" in fields):
            text_obj = {k: v for k, v in fields.items() if k in (
                "prompt", "negative_prompt", "Negative Prompt", "seed", "sampler_name",
                "num_inference_steps", "guidance_scale", "use_stable_diffusion_model")}
            if "use_stable_diffusion_model" in text_obj or "num_inference_steps" in text_obj:
                _add_json_record(c, "png:prompt", text_obj, "Easy Diffusion",
                                 "easy_diffusion_metadata")
                handled.add("prompt")
    for name, value in fields.items():
        # Any other keyword may hold a record too ("generation_data", "Description"…);
        # XMP is read property by property in _read_xmp_text.
        if name not in handled and name != XMP_PNG_KEYWORD and \
                _add_any_text(c, f"png:{name}", value):
            handled.add(name)
    _add_strings(c, "png", {k: v for k, v in fields.items() if k not in handled})
    if after and c.findings:
        for i, f in enumerate(c.findings):
            if f.source.split(":", 1)[-1] in after:
                c.findings[i] = replace(f, details={**f.details, "after_idat": True})


def _read_exif(c: _Collector, data: bytes, rgb: Callable[[], bytes | None], key: str) -> None:
    exif = read_exif_text(data)
    fields = dict(exif.fields)
    handled: set[str] = set()
    # ComfyUI savers: graphs in Make/Model/ImageDescription, behind a prefix.
    graphs: dict[str, Any] = {}
    for name in ("Model", "Make", "ImageDescription"):
        value = fields.get(name, "")
        for prefix in COMFY_EXIF_PREFIXES:
            if value.startswith(prefix):
                obj = _json(value[len(prefix):])
                if obj is not None:
                    graphs[prefix.lower().rstrip(":")] = obj
                    handled.add(name)
    if graphs:
        _add_comfy(c, "exif:" + "+".join(sorted(handled)), graphs.get("prompt"),
                   graphs.get("workflow"))
    for name in ("Model", "Make", "ImageDescription", *XP_FIELDS.values()):
        # Bare JSON here: legacy SwarmUI (Model) and third-party ComfyUI savers; A1111
        # text or generation JSON in the description and Windows' XP* fields.
        value = fields.get(name, "") if name not in handled else ""
        if not value:
            continue
        if name in ("Model", "Make"):
            obj = _json(value)
            found = obj is not None and _add_parameters_json(c, f"exif:{name}", obj, False)
        else:
            found = _add_any_text(c, f"exif:{name}", value)
        if found:
            handled.add(name)
    marker = "jpeg:COM" if data[:2] == b"\xff\xd8" else "gif:Comment"
    for text in exif.comments:
        _add_any_text(c, marker, text)
    comment = exif.user_comment
    nai_fields = {"Title": fields.get("DocumentName", ""),
                  "Description": fields.get("ImageDescription", ""),
                  "Source": fields.get("Software", ""), "Comment": comment or ""}
    if comment and (nai_fields["Title"] in novelai.TITLES or
                    nai_fields["Source"].startswith(("NovelAI", "Stable Diffusion"))) and \
            (parsed := novelai.parse_comment(comment)) is not None and \
            ("signed_hash" in parsed or "uc" in parsed):
        _add_novelai(c, "exif:UserComment", novelai.record_from_fields(
            {**nai_fields, "Software": "NovelAI"}), rgb, key)
        handled |= {"DocumentName", "ImageDescription", "Software"}
        comment = None
    if comment:
        scheme = (exif.maker_note or "").strip() in ("fooocus", "a1111")
        generator = "Fooocus" if fields.get("Software", "").startswith("Fooocus") else ""
        obj = _json(comment)
        if obj is not None:
            _add_parameters_json(c, "exif:UserComment", obj, scheme or bool(generator))
        else:
            _add_a1111(c, "exif:UserComment", comment, generator)
    if fields.get("Artist", "").strip().lower() == "ai" and not c.findings:
        c.add(source="exif:Artist", reason="generator_software_string", label=AI,
              strength=WEAK, params={"app": "Civitai", "field": "Artist"},
              generator="Civitai", details={"field": "Artist"})
        handled.add("Artist")
    _add_strings(c, "exif", {k: v for k, v in fields.items() if k not in handled})


def _read_xmp_text(c: _Collector, data: bytes) -> None:
    """Generation records written as XMP property values (``dc:description``,
    ``exif:UserComment``, ``tiff:ImageDescription``…): any property whose value is
    generation JSON or A1111 text. The XMP reader proper handles the IPTC/TC260 fields."""
    try:
        packets = find_packets(data)
    except XmpRefused as exc:
        c.errors.append(f"xmp: {exc}"[:200])
        return
    props = XmpProperties()
    for packet in packets:
        try:
            parse_packet(packet, props)
        except XmpRefused as exc:
            c.errors.append(f"xmp: {exc}"[:200])
    for (_ns, name), values in list(props.values.items())[:MAX_ITEMS]:
        for value in values[:8]:
            if len(value) >= 16 and ("Steps: " in value or value.lstrip()[:1] == "{"):
                _add_any_text(c, f"xmp:{name}", value)


def _read_stealth(c: _Collector, pixels: Image.Image | None, alpha: Image.Image | None,
                  rgb: Callable[[], bytes | None], key: str) -> None:
    target = pixels
    if target is None and alpha is not None:
        target = alpha.convert("L")
        target = Image.merge("LA", (target, target))
    if target is None:
        return
    try:
        payload = read_stealth(target)
    except (ValueError, MemoryError) as exc:
        c.errors.append(f"stealth: {type(exc).__name__}")
        return
    if payload is None:
        return
    source = f"stealth:{payload.channel}"
    obj = _json(payload.text)
    nai = novelai.record_from_stealth_json(obj)
    if nai is not None:
        _add_novelai(c, source, nai, rgb, key)
        return
    if obj is not None and _add_parameters_json(c, source, obj, False):
        return
    if _add_a1111(c, source, payload.text):
        return
    c.add(source=source, reason="stealth_metadata", label=AI, strength=STRONG,
          details={"channel": payload.channel, "compressed": payload.compressed,
                   "truncated_payload": payload.truncated},
          private={"text": payload.text})


# ---------------------------------------------------------------------------- entry


def _decode_original(data: bytes) -> Image.Image | None:
    """Decode ``data`` as stored (no flattening) when no ImageInput was given."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in STEALTH_FORMATS:
                return None
            im.load()
            return im
    except Exception:
        return None


def read_generator_metadata(
    data: bytes,
    image: ImageInput | None,
    table: GeneratorTable,
    *,
    novelai_public_key: str = novelai.NOVELAI_PUBLIC_KEY,
) -> list[Finding]:
    """Return every generator-metadata finding in ``data`` (the original upload bytes).

    ``image`` supplies the stored pixels for stealth data and the NovelAI signature;
    without it the bytes are decoded here (PNG/WebP/TIFF only). Never raises for bad
    metadata: unreadable pieces are skipped and listed in an ``errors`` finding detail.
    ``novelai_public_key`` exists so tests can sign with their own key.
    """
    c = _Collector(table)
    raw: Image.Image | None
    alpha: Image.Image | None = None
    if image is not None:
        raw, alpha = image.raw, image.alpha
    else:
        raw = _decode_original(data)
    if raw is not None and raw.mode not in ("RGB", "RGBA", "LA", "PA", "P"):
        raw = None

    cache: dict[str, bytes | None] = {}

    def rgb_bytes() -> bytes | None:
        """RGB bytes of the stored pixels, H x W x 3 row-major, computed once."""
        if "v" not in cache:
            if raw is None:
                cache["v"] = None
            else:
                arr = np.asarray(raw if raw.mode in ("RGB", "RGBA") else raw.convert("RGBA"))
                cache["v"] = np.ascontiguousarray(arr[:, :, :3]).tobytes()
        return cache["v"]

    if is_png(data):
        _read_png(c, data, rgb_bytes, novelai_public_key)
    _read_exif(c, data, rgb_bytes, novelai_public_key)
    _read_xmp_text(c, data)
    fmt = image.format if image is not None else (raw.format if raw is not None else "")
    if fmt in STEALTH_FORMATS or is_png(data):
        _read_stealth(c, raw, alpha, rgb_bytes, novelai_public_key)
    if c.errors and c.findings:
        first = c.findings[0]
        c.findings[0] = replace(first, details={
            **first.details, "errors": [e[:200] for e in c.errors[:20]]})
    return c.findings
