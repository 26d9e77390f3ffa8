"""The reason codes the provenance readers put on their findings, with their texts.

Each signal family reads as itself: a verified NovelAI signature is not C2PA, an IPTC
source type is not generation data. The provenance detector declares these (its
``reasons``) plus one entry per code its generator table adds (:func:`table_reasons`).
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from moderation.internal.provenance.generator_table import GeneratorTable
from moderation.reasons import (
    WHY_C2PA,
    WHY_FILE_METADATA,
    WHY_IPTC,
    WHY_NOVELAI_SIGNATURE,
    WHY_STEALTH,
    Reason,
)

C2PA_REASONS = (
    Reason("c2pa_trusted_ai", _("A C2PA manifest from a trusted signer declares AI generation."),
           WHY_C2PA),
    Reason("c2pa_ai", _("A C2PA manifest (signer not on the trust list) declares AI "
                        "generation."), WHY_C2PA),
    Reason("c2pa_ai_composite", _("A C2PA manifest declares an edit with generative AI."),
           WHY_C2PA, detail=_("A C2PA manifest declares an edit with generative AI "
                              "(source type: {term}).")),
    Reason("c2pa_trusted_capture",
           _("A C2PA manifest from a trusted signer declares a camera capture."), WHY_C2PA),
    Reason("c2pa_remote_manifest", _("The file points to a remote C2PA manifest (not fetched).")),
    Reason("c2pa_training_mining", _("A C2PA manifest states an AI training and mining "
                                     "preference.")),
)
XMP_REASONS = (
    Reason("xmp_digital_source_type_ai",
           _("The IPTC digital source type in XMP says AI-generated."), WHY_IPTC),
    Reason("xmp_digital_source_type_composite",
           _("The IPTC digital source type in XMP says composite with AI."), WHY_IPTC,
           detail=_("The IPTC digital source type in XMP is “{term}”: an AI-assisted "
                    "composite.")),
    Reason("xmp_ai_system_used", _("XMP metadata names the AI system used."), WHY_IPTC),
    Reason("xmp_ai_prompt", _("XMP metadata carries an AI prompt."), WHY_IPTC),
    Reason("xmp_tc260_aigc", _("An AIGC label (TC260) in XMP marks the image AI-generated."),
           WHY_IPTC),
    Reason("xmp_tc260_unreadable", _("An AIGC label (TC260) in XMP could not be read.")),
    Reason("xmp_plus_data_mining", _("XMP states a PLUS data-mining permission.")),
    Reason("xmp_ai_tool_string", _("An XMP tool field names an AI tool."), WHY_FILE_METADATA,
           detail=_("The XMP field “{field}” names an AI tool.")),
)
GENERATOR_REASONS = (
    Reason("novelai_signature_verified", _("NovelAI's signature on the image verifies."),
           WHY_NOVELAI_SIGNATURE),
    Reason("novelai_metadata", _("NovelAI generation metadata (not signed)."),
           WHY_FILE_METADATA),
    Reason("a1111_parameters", _("Stable Diffusion WebUI generation parameters."),
           WHY_FILE_METADATA, detail=_("Generation parameters written by {app}.")),
    Reason("a1111_extras", _("Stable Diffusion WebUI post-processing only (e.g. upscaling)."),
           WHY_FILE_METADATA),
    Reason("comfyui_graph", _("A ComfyUI generation graph."), WHY_FILE_METADATA,
           detail=_("A generation graph from {app}.")),
    Reason("comfyui_upscale_only", _("A ComfyUI graph that only upscales."), WHY_FILE_METADATA),
    Reason("comfyui_no_sampler", _("A ComfyUI graph without a generation step."),
           WHY_FILE_METADATA),
    Reason("invokeai_metadata", _("An InvokeAI generation record."), WHY_FILE_METADATA),
    Reason("fooocus_metadata", _("A Fooocus generation record."), WHY_FILE_METADATA),
    Reason("easy_diffusion_metadata", _("An Easy Diffusion generation record."),
           WHY_FILE_METADATA),
    Reason("generator_metadata", _("A generation record written by an AI tool."),
           WHY_FILE_METADATA, detail=_("A generation record written by {app}.")),
    Reason("generation_json", _("A generation record (a prompt with sampler settings) in the "
                                "file's metadata."), WHY_FILE_METADATA,
           detail=_("A generation record (a prompt with sampler settings) written by {app}.")),
    Reason("generator_key", _("A metadata key that only an AI tool writes."), WHY_FILE_METADATA,
           detail=_("A metadata key that only {app} writes.")),
    Reason("generator_software_string", _("A software or credit field names an AI tool."),
           WHY_FILE_METADATA, detail=_("The file's “{field}” field names {app}.")),
    Reason("stealth_metadata", _("Generation data hidden in the alpha channel."), WHY_STEALTH),
)
#: The provenance detector's message when the file carries no provenance at all.
NO_PROVENANCE = Reason("no_provenance", _("The file carries no provenance or generation data."))
READER_REASONS: tuple[Reason, ...] = (*C2PA_REASONS, *XMP_REASONS, *GENERATOR_REASONS,
                                      NO_PROVENANCE)


def table_reasons(table: GeneratorTable) -> tuple[Reason, ...]:
    """One reason per code the generator table introduces, named after its tool."""
    known = {r.code for r in READER_REASONS}
    named: dict[str, str] = {}
    entries = [(p.reason, p.generator) for p in (*table.software, *table.descriptions)]
    entries += [(m.reason, m.generator) for m in table.json_markers]
    for code, generator in entries:
        if code not in known:
            named.setdefault(code, generator)
    return tuple(
        Reason(code, format_lazy(_("Metadata written by {tool}."), tool=generator),
               WHY_FILE_METADATA,
               detail=format_lazy(_("The file's “{{field}}” field names {tool}."),
                                  tool=generator))
        for code, generator in named.items())
