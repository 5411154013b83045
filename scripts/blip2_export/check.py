"""Checks of the exported graphs against PyTorch (scripts/export_blip2.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .graphs import EmbedTokens, QFormer, VisionEncoder, language_model_logits


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


def check_all(model, *, out: Path, image_size: int, prompt_ids: list[int], steps: int, check: Check) -> None:
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
