"""The four graphs of iris's BLIP-2 layout as torch modules, and their ONNX export (scripts/export_blip2.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import torch
from transformers import Blip2ForConditionalGeneration
from transformers.cache_utils import DynamicCache

OPSET = 18


class VisionEncoder(torch.nn.Module):
    def __init__(self, model: Blip2ForConditionalGeneration):
        super().__init__()
        self.vision = model.vision_model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.vision(pixel_values=pixel_values)[0]


class QFormer(torch.nn.Module):
    """Blip2ForConditionalGeneration's path from image embeddings to the language model's inputs."""

    def __init__(self, model: Blip2ForConditionalGeneration):
        super().__init__()
        self.query_tokens = model.query_tokens
        self.qformer = model.qformer
        self.projection = model.language_projection

    def forward(self, image_embeds: torch.Tensor) -> torch.Tensor:
        mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        queries = self.query_tokens.expand(image_embeds.shape[0], -1, -1)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=image_embeds, encoder_attention_mask=mask)[0]
        return self.projection(out)


class EmbedTokens(torch.nn.Module):
    def __init__(self, model: Blip2ForConditionalGeneration):
        super().__init__()
        self.embed = model.language_model.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed(input_ids)


def language_model_logits(model: Blip2ForConditionalGeneration, **kwargs):
    """Logits and cache of the language model, whether transformers keeps it as a *ForCausalLM (4.x) or as a
    base model with the head on Blip2ForConditionalGeneration."""
    lm = model.language_model
    out = lm(**kwargs)
    if lm.get_output_embeddings() is not None:
        return out.logits, out.past_key_values
    return model.lm_head(out.last_hidden_state), out.past_key_values


def cache_pairs(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Key/value tensors per layer, across the DynamicCache layouts of transformers 4.x and 5.x."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))


class Decoder(torch.nn.Module):
    """OPT with past key/values as flat tensors. Positions and the 4-D mask are built here from tensors, so the
    traced graph follows any past and sequence length (transformers' own mask helpers do not trace)."""

    def __init__(self, model: Blip2ForConditionalGeneration):
        super().__init__()
        self.model = model
        self.layers = model.config.text_config.num_hidden_layers

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, *past: torch.Tensor):
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        seq = inputs_embeds.shape[1]
        total = attention_mask.shape[1]
        # OPT's own rule (cumsum of the mask − 1), for the new tokens only
        positions = (torch.cumsum(attention_mask, dim=1) * attention_mask - 1)[:, total - seq :]
        query = torch.arange(seq, device=inputs_embeds.device) + (total - seq)
        key = torch.arange(total, device=inputs_embeds.device)
        visible = (key[None, :] <= query[:, None])[None, None] & attention_mask[:, None, None, :].bool()
        mask = torch.zeros_like(visible, dtype=inputs_embeds.dtype).masked_fill(
            ~visible, torch.finfo(inputs_embeds.dtype).min
        )
        logits, present = language_model_logits(
            self.model,
            inputs_embeds=inputs_embeds,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
        flat = [t for pair in cache_pairs(present) for t in pair]
        return (logits, *flat)


def export(module: torch.nn.Module, *, args: tuple, path: Path, names: dict) -> None:
    """Traces `module` (the TorchScript exporter: the decoder's cache wrapper needs tracing) and writes one
    .onnx file, with its weights in `<name>.onnx_data` beside it when they pass protobuf's 2 GB."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / path.name
        with torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(raw),
                input_names=names["inputs"],
                output_names=names["outputs"],
                dynamic_axes=names["dynamic"],
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        proto = onnx.load(str(raw), load_external_data=True)
        for stale in (path, path.with_name(path.name + "_data")):
            stale.unlink(missing_ok=True)
        if _over_2gb(proto):
            onnx.save_model(
                proto,
                str(path),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=path.name + "_data",
                size_threshold=1024,
            )
        else:
            onnx.save_model(proto, str(path))
    print(f"  wrote {path} ({_size(path)})", flush=True)


def _over_2gb(proto) -> bool:
    try:
        return proto.ByteSize() > 2_000_000_000
    except Exception:  # protobuf refuses to measure a message over 2 GB
        return True


def _size(path: Path) -> str:
    total = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "_data"))
    return f"{total / 1e6:.1f} MB"


def export_all(model: Blip2ForConditionalGeneration, onnx_dir: Path, image_size: int) -> None:
    onnx_dir.mkdir(parents=True, exist_ok=True)
    text = model.config.text_config
    pixels = torch.rand(1, 3, image_size, image_size)
    export(
        VisionEncoder(model),
        args=(pixels,),
        path=onnx_dir / "vision_encoder.onnx",
        names={
            "inputs": ["pixel_values"],
            "outputs": ["image_embeds"],
            "dynamic": {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}},
        },
    )
    with torch.no_grad():
        image_embeds = VisionEncoder(model)(pixels)
    export(
        QFormer(model),
        args=(image_embeds,),
        path=onnx_dir / "qformer.onnx",
        names={
            "inputs": ["image_embeds"],
            "outputs": ["language_model_inputs"],
            "dynamic": {"image_embeds": {0: "batch_size"}, "language_model_inputs": {0: "batch_size"}},
        },
    )
    ids = torch.tensor([[2, 3, 4]], dtype=torch.long)
    export(
        EmbedTokens(model),
        args=(ids,),
        path=onnx_dir / "embed_tokens.onnx",
        names={
            "inputs": ["input_ids"],
            "outputs": ["inputs_embeds"],
            "dynamic": {
                "input_ids": {0: "batch_size", 1: "sequence_length"},
                "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            },
        },
    )
    # Trace with a non-empty past and a sequence longer than one, so neither is baked in as a constant.
    heads, head_dim = text.num_attention_heads, text.hidden_size // text.num_attention_heads
    past_len, seq = 3, 2
    past = [torch.rand(1, heads, past_len, head_dim) for _ in range(2 * text.num_hidden_layers)]
    embeds = torch.rand(1, seq, text.hidden_size)
    mask = torch.ones(1, past_len + seq, dtype=torch.long)
    past_names = [f"past_key_values.{i}.{kv}" for i in range(text.num_hidden_layers) for kv in ("key", "value")]
    present_names = [n.replace("past_key_values", "present") for n in past_names]
    dynamic = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    dynamic.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in past_names})
    dynamic.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in present_names})
    export(
        Decoder(model),
        args=(embeds, mask, *past),
        path=onnx_dir / "decoder_model_merged.onnx",
        names={
            "inputs": ["inputs_embeds", "attention_mask", *past_names],
            "outputs": ["logits", *present_names],
            "dynamic": dynamic,
        },
    )
