#!/usr/bin/env python3
"""Export BLIP-2 into iris's ONNX layout (docs/vqa.md, "BLIP-2 ONNX layout"), then check it against PyTorch.

    python3 scripts/export_blip2.py --out models/Salesforce/blip2-opt-2.7b            # the real model
    python3 scripts/export_blip2.py --tiny --out test/fixtures/blip2-tiny               # random tiny model

What it writes into --out (what src/models/vqa/blip2.ts reads):

    onnx/vision_encoder.onnx        pixel_values float32 [batch_size, 3, H, W] -> image_embeds
    onnx/qformer.onnx               image_embeds -> language_model_inputs [batch_size, num_query_tokens, hidden]
                                    (query tokens through the Q-Former, then the language projection)
    onnx/embed_tokens.onnx          input_ids int64 [batch_size, sequence_length] -> inputs_embeds
    onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask int64 [batch_size, total_sequence_length],
                                    past_key_values.{i}.key/value [batch_size, heads, past_sequence_length, head_dim]
                                    -> logits, present.{i}.key/value   (OPT; one graph for the first and later steps)
    onnx/<name>.onnx_data           weights of a graph over 2 GB (ONNX external data, one file per graph)
    config.json, generation_config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
    preprocessor_config.json (BlipImageProcessor)

--tiny builds a random Blip2Config (2-layer vision tower, Q-Former and OPT of width 32) and a word-level
tokenizer instead of downloading anything: a fixture made by the real architecture for iris's tests.

Checks (the script exits 1 when one fails): the vision encoder, Q-Former and embeddings against PyTorch at
batch sizes 1 and 2; the decoder the way iris walks it -- the query tokens on an empty past, then the prompt,
then one token at a time, each feeding the previous step's present key/values -- against one PyTorch forward
over the whole sequence, logits compared at every position and the greedy token at every answer step.

Requirements: scripts/requirements-export.txt (torch, transformers, onnx, onnxruntime, numpy).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    AutoTokenizer,
    Blip2Config,
    Blip2ForConditionalGeneration,
    BlipImageProcessor,
    OPTConfig,
    PreTrainedTokenizerFast,
)
from transformers.cache_utils import DynamicCache

OPSET = 18
PROMPT = "Question: what colour is the cat? Answer:"
TINY_WORDS = ["question", "answer", ":", "?", ".", "what", "colour", "is", "the", "cat", "red", "blue", "it"]


# ---------------------------------------------------------------------------------------------------
# The four graphs


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
        mask = torch.zeros(visible.shape, dtype=inputs_embeds.dtype, device=inputs_embeds.device)
        mask = mask.masked_fill(~visible, torch.finfo(inputs_embeds.dtype).min)
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


# ---------------------------------------------------------------------------------------------------
# Export


def export(module: torch.nn.Module, args: tuple, path: Path, names: dict) -> None:
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
        (pixels,),
        onnx_dir / "vision_encoder.onnx",
        {
            "inputs": ["pixel_values"],
            "outputs": ["image_embeds"],
            "dynamic": {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}},
        },
    )
    with torch.no_grad():
        image_embeds = VisionEncoder(model)(pixels)
    export(
        QFormer(model),
        (image_embeds,),
        onnx_dir / "qformer.onnx",
        {
            "inputs": ["image_embeds"],
            "outputs": ["language_model_inputs"],
            "dynamic": {"image_embeds": {0: "batch_size"}, "language_model_inputs": {0: "batch_size"}},
        },
    )
    ids = torch.tensor([[2, 3, 4]], dtype=torch.long)
    export(
        EmbedTokens(model),
        (ids,),
        onnx_dir / "embed_tokens.onnx",
        {
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
        (embeds, mask, *past),
        onnx_dir / "decoder_model_merged.onnx",
        {"inputs": ["inputs_embeds", "attention_mask", *past_names], "outputs": ["logits", *present_names], "dynamic": dynamic},
    )


# ---------------------------------------------------------------------------------------------------
# Checks against PyTorch


class Check:
    def __init__(self, rtol: float):
        self.rtol = rtol
        self.failures: list[str] = []

    def close(self, what: str, ours: np.ndarray, ref: np.ndarray) -> None:
        if ours.shape != ref.shape:
            self.failures.append(f"{what}: shape {ours.shape} instead of {ref.shape}")
            print(f"  FAIL {what}: shape {ours.shape} instead of {ref.shape}")
            return
        diff = float(np.max(np.abs(ours - ref))) if ours.size else 0.0
        scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-6)
        ok = diff <= self.rtol * scale
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: max |diff| {diff:.3g} ({diff / scale:.3%} of max |ref| {scale:.3g})")
        if not ok:
            self.failures.append(f"{what}: max |diff| {diff:.3g} > {self.rtol:.1%} of {scale:.3g}")

    def equal(self, what: str, ours, ref) -> None:
        ok = list(ours) == list(ref)
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {list(ours)}{'' if ok else f' instead of {list(ref)}'}")
        if not ok:
            self.failures.append(f"{what}: {list(ours)} instead of {list(ref)}")


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def check_all(model, out: Path, image_size: int, prompt_ids: list[int], steps: int, check: Check) -> None:
    onnx_dir = out / "onnx"
    vision, qformer, embed, decoder = (
        session(onnx_dir / f"{n}.onnx") for n in ("vision_encoder", "qformer", "embed_tokens", "decoder_model_merged")
    )
    text = model.config.text_config
    with torch.no_grad():
        for batch in (1, 2):
            pixels = torch.rand(batch, 3, image_size, image_size)
            ref_img = VisionEncoder(model)(pixels).numpy()
            img = vision.run(None, {"pixel_values": pixels.numpy()})[0]
            check.close(f"vision_encoder, batch {batch}", img, ref_img)
            ref_q = QFormer(model)(torch.from_numpy(img)).numpy()
            check.close(f"qformer, batch {batch}", qformer.run(None, {"image_embeds": img})[0], ref_q)
            ids = torch.randint(0, text.vocab_size, (batch, 5))
            check.close(
                f"embed_tokens, batch {batch}",
                embed.run(None, {"input_ids": ids.numpy()})[0],
                EmbedTokens(model)(ids).numpy(),
            )

        # The walk iris does: query prefix on an empty past, the prompt, then one token at a time.
        pixels = torch.rand(1, 3, image_size, image_size)
        queries = QFormer(model)(VisionEncoder(model)(pixels))
        embed_ids = lambda ids: EmbedTokens(model)(torch.tensor([ids], dtype=torch.long))  # noqa: E731
        heads, head_dim = text.num_attention_heads, text.hidden_size // text.num_attention_heads
        past_names = [f"past_key_values.{i}.{kv}" for i in range(text.num_hidden_layers) for kv in ("key", "value")]
        past = {n: np.zeros((1, heads, 0, head_dim), dtype=np.float32) for n in past_names}
        total = 0
        chunks: list[torch.Tensor] = []
        answer: list[int] = []

        def step(embeds: torch.Tensor) -> np.ndarray:
            nonlocal past, total
            total += embeds.shape[1]
            outs = decoder.run(
                None,
                {"inputs_embeds": embeds.numpy(), "attention_mask": np.ones((1, total), dtype=np.int64), **past},
            )
            past = {n: outs[1 + i] for i, n in enumerate(past_names)}
            chunks.append(embeds)
            return outs[0]

        walked = [step(queries), step(embed_ids(prompt_ids))]
        for _ in range(steps):
            token = int(np.argmax(walked[-1][0, -1]))
            answer.append(token)
            walked.append(step(embed_ids([token])))
        full = torch.cat(chunks, dim=1)
        ref, _ = language_model_logits(
            model, inputs_embeds=full, attention_mask=torch.ones(1, full.shape[1], dtype=torch.long), use_cache=False
        )
        ref = ref.numpy()
        q, p = queries.shape[1], len(prompt_ids)
        check.close(f"decoder, query prefix ({q} tokens, empty past)", walked[0], ref[:, :q])
        check.close(f"decoder, prompt ({p} tokens on {q} past)", walked[1], ref[:, q : q + p])
        for i, logits in enumerate(walked[2:]):
            at = q + p + i
            check.close(f"decoder, step {i + 1} (1 token on {at} past)", logits, ref[:, at : at + 1])
        ref_answer = [int(np.argmax(ref[0, q + p - 1 + i])) for i in range(steps)]
        check.equal("greedy answer tokens (onnx walk vs one PyTorch forward)", answer, ref_answer)


# ---------------------------------------------------------------------------------------------------
# Models and companion files


def tiny_model(seed: int):
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *TINY_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", special_tokens=[("</s>", vocab["</s>"])])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="</s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    image_size = 32
    config = Blip2Config(
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            image_size=image_size, patch_size=8,
        ),
        qformer_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            encoder_hidden_size=32, vocab_size=len(vocab),
        ),
        text_config=OPTConfig(
            vocab_size=len(vocab), hidden_size=32, word_embed_proj_dim=32, ffn_dim=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=128, bos_token_id=1, eos_token_id=1, pad_token_id=0,
        ).to_dict(),
        num_query_tokens=4,
    )
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration._from_config(config, attn_implementation="eager")
    processor = BlipImageProcessor(
        size={"height": image_size, "width": image_size},
        resample=3,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        do_convert_rgb=True,
    )
    return model.float(), tokenizer, processor


def real_model(model_id: str, revision: str | None):
    # eager attention traces plainly; the weights are used in fp32 whatever the checkpoint stores
    model = Blip2ForConditionalGeneration.from_pretrained(model_id, revision=revision, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision, use_fast=True)
    processor = BlipImageProcessor.from_pretrained(model_id, revision=revision)
    return model.float(), tokenizer, processor


def write_companions(model, tokenizer, image_processor, out: Path, model_id: str) -> None:
    text = model.config.text_config
    model.config.save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    config["_name_or_path"] = model_id
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    generation = {
        "bos_token_id": text.bos_token_id,
        "eos_token_id": text.eos_token_id,
        "pad_token_id": text.pad_token_id,
        "max_new_tokens": 30,
    }
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    tokenizer.save_pretrained(out)
    if not (out / "tokenizer.json").exists():
        sys.exit(f"error: {model_id}'s tokenizer has no fast (tokenizer.json) form; iris reads tokenizer.json")
    image_processor.save_pretrained(out)
    for extra in ("processor_config.json", "chat_template.json", "chat_template.jinja"):
        (out / extra).unlink(missing_ok=True)


def prompt_ids(out: Path, tokenizer, eos: int) -> list[int]:
    """The prompt as iris tokenizes it (tokenizer.json, which transformers.js reads), checked against the Python
    tokenizer. OPT's tokenizer puts </s> first; a tokenizer.json whose post-processor leaves it out gets a
    template that adds it, so iris's ids are BLIP-2's."""
    path = out / "tokenizer.json"
    expected = list(tokenizer(PROMPT)["input_ids"])
    tok = Tokenizer.from_file(str(path))
    ids = tok.encode(PROMPT).ids
    if ids != expected and expected[:1] == [eos] and ids == expected[1:]:
        bos = processors.TemplateProcessing(single="</s> $A", special_tokens=[("</s>", eos)])
        tok.post_processor = processors.Sequence([tok.post_processor, bos]) if tok.post_processor else bos
        tok.save(str(path))
        ids = Tokenizer.from_file(str(path)).encode(PROMPT).ids
        print("  tokenizer.json: added </s> at the start, as the Python tokenizer does", flush=True)
    if ids != expected:
        sys.exit(f"error: tokenizer.json gives {ids[:8]}… for {PROMPT!r}, the Python tokenizer {expected[:8]}…")
    if ids[:1] != [eos]:
        sys.exit(f"error: the prompt does not start with </s> (id {eos}) as OPT's does: {ids[:5]}")
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description="Export BLIP-2 into iris's ONNX layout and check it against PyTorch.")
    parser.add_argument("--out", required=True, type=Path, help="model folder to write (e.g. models/Salesforce/blip2-opt-2.7b)")
    parser.add_argument("--model", default="Salesforce/blip2-opt-2.7b", help="Hugging Face model id or local folder")
    parser.add_argument("--revision", default=None, help="hub revision (branch, tag or commit)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random Blip2Config instead of --model (no download)")
    parser.add_argument("--seed", type=int, default=0, help="weights seed for --tiny")
    parser.add_argument("--steps", type=int, default=8, help="answer tokens the decoder check walks")
    parser.add_argument("--rtol", type=float, default=1e-2, help="largest |onnx - torch| as a fraction of max |torch|")
    parser.add_argument("--no-check", action="store_true", help="write the files without checking them")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        print(f"note: {out} is not empty; its files are overwritten", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    if args.tiny:
        model, tokenizer, image_processor = tiny_model(args.seed)
        model_id = "iris/blip2-tiny-random"
    else:
        print(f"loading {args.model} (fp32)…", flush=True)
        model, tokenizer, image_processor = real_model(args.model, args.revision)
        model_id = args.model
    model.eval()
    image_size = model.config.vision_config.image_size

    print("writing companion files…", flush=True)
    write_companions(model, tokenizer, image_processor, out, model_id)
    ids = prompt_ids(out, tokenizer, model.config.text_config.eos_token_id)
    print("exporting the four graphs…", flush=True)
    export_all(model, out / "onnx", image_size)
    if args.no_check:
        return 0
    print(f"checking against PyTorch (tolerance {args.rtol:.1%} of the largest value)…", flush=True)
    check = Check(args.rtol)
    check_all(model, out, image_size, ids, args.steps, check)
    if check.failures:
        print(f"\n{len(check.failures)} check(s) failed:", file=sys.stderr)
        for f in check.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"\n{out} is ready: point tasks.vqa.model at it with tasks.vqa.backend: blip2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
