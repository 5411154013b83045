#!/usr/bin/env python3
"""Export BLIP-2 into iris's ONNX layout (docs/vqa.md, "BLIP-2 ONNX layout"), then check it against PyTorch.

    python3 scripts/export_blip2.py --out models/Salesforce/blip2-opt-2.7b            # the real model
    python3 scripts/export_blip2.py --tiny --out /tmp/blip2-tiny                        # random tiny model

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

Requirements: scripts/requirements-export.txt (torch, transformers, onnx, onnxruntime, numpy, pillow).
Helpers: scripts/blip2_export/ (graphs.py: the torch modules and the export; check.py: the checks).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from blip2_export.check import Check, check_all
from blip2_export.graphs import export_all
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    AutoTokenizer,
    Blip2Config,
    Blip2ForConditionalGeneration,
    BlipImageProcessor,
    OPTConfig,
    PreTrainedTokenizerFast,
)

PROMPT = "Question: what colour is the cat? Answer:"
TINY_WORDS = ["question", "answer", ":", "?", ".", "what", "colour", "is", "the", "cat", "red", "blue", "it"]


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


def write_companions(model, *, tokenizer, image_processor, out: Path, model_id: str) -> None:
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
    write_companions(model, tokenizer=tokenizer, image_processor=image_processor, out=out, model_id=model_id)
    ids = prompt_ids(out, tokenizer, model.config.text_config.eos_token_id)
    print("exporting the four graphs…", flush=True)
    export_all(model, out / "onnx", image_size)
    if args.no_check:
        return 0
    print(f"checking against PyTorch (tolerance {args.rtol:.1%} of the largest value)…", flush=True)
    check = Check(args.rtol)
    check_all(model, out=out, image_size=image_size, prompt_ids=ids, steps=args.steps, check=check)
    if check.failures:
        print(f"\n{len(check.failures)} check(s) failed:", file=sys.stderr)
        for f in check.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"\n{out} is ready: point tasks.vqa.model at it with tasks.vqa.backend: blip2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
