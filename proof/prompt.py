"""A toy prompt: a scene's objects named as a user would ("a red triangle, a blue disc"), as
the toy prior's cross-attention context.

A real checkpoint is edited with a prompt that names what the picture holds (DragBench's
images each come with one), and its denoiser completes a half-moved object as what the
prompt names. The toy prior has no text encoder; a prompted prior (config.train.prompt)
learns to read a fixed (untrained) random vector for each object kind and each hue instead. The context of a
scene is the prior's fixed empty context with its first tokens replaced, one per object,
by its kind's vector plus its hue's. Cross-attention has no positions, so the order of the
objects does not matter. The empty context is the prompt "" (a prompted prior is trained
with it a share of the time, config.train.prompt.drop), so the unprompted prior's callers
keep working.
"""
import colorsys

import numpy as np
import torch

from proof import objects

HUES = ("red", "yellow", "green", "cyan", "blue", "magenta")
MAX_OBJECTS = 3
KINDS_KEY, HUES_KEY = "toy_prior.prompt_kinds", "toy_prior.prompt_hues"  # prior.PROMPT_KEYS


def hue_index(colour) -> int:
    """The nearest of HUES to an RGB colour in [0, 1]."""
    h, _, _ = colorsys.rgb_to_hsv(*(float(c) for c in colour))
    return int(round(h * len(HUES))) % len(HUES)


def object_codes(scene_objects) -> np.ndarray:
    """(MAX_OBJECTS, 2) int16 (kind index in objects.KINDS, hue index), -1 past the last object."""
    if len(scene_objects) > MAX_OBJECTS:
        raise ValueError(f"a prompt names at most {MAX_OBJECTS} objects, the scene has {len(scene_objects)}")
    codes = np.full((MAX_OBJECTS, 2), -1, dtype=np.int16)
    for i, o in enumerate(scene_objects):
        codes[i] = objects.KINDS.index(o["kind"]), hue_index(o["colour"])
    return codes


def token_table(context_dim: int, seed: int) -> dict:
    """The fixed vectors of the kinds and hues, drawn from their own generator (so that a prompted
    run's batches, poses and noise are the unprompted run's); a token's two parts sum to unit variance."""
    gen = torch.Generator().manual_seed(seed)
    return {KINDS_KEY: torch.randn((len(objects.KINDS), context_dim), generator=gen) / 2 ** 0.5,
            HUES_KEY: torch.randn((len(HUES), context_dim), generator=gen) / 2 ** 0.5}


def contexts(codes: torch.Tensor, empty: torch.Tensor, table: dict) -> torch.Tensor:
    """(B, 77, C) contexts of (B, MAX_OBJECTS, 2) codes: `empty` (1, 77, C) with token i replaced by
    object i's kind vector plus its hue vector."""
    kinds, hues = table[KINDS_KEY].to(empty), table[HUES_KEY].to(empty)
    out = empty.expand(len(codes), -1, -1).clone()
    present = codes[..., 0] >= 0
    k, h = codes[..., 0].clamp(min=0).long(), codes[..., 1].clamp(min=0).long()
    named = kinds[k] + hues[h]  # (B, MAX_OBJECTS, C)
    out[:, :MAX_OBJECTS] = torch.where(present[..., None], named, out[:, :MAX_OBJECTS])
    return out


def conditioning(codes: np.ndarray, empty: torch.Tensor, table: dict) -> list:
    """The host's CONDITIONING of a prompt's codes (object_codes) for a prompted prior."""
    return [[contexts(torch.from_numpy(np.asarray(codes))[None], empty, table), {}]]


def scene_conditioning(cond: list, table: dict | None, scene) -> list:
    """What a scene is edited with: the prior's own CONDITIONING `cond`, or with a prompted prior's
    token `table` the scene's prompt (its objects named)."""
    return cond if table is None else conditioning(object_codes(scene.objects), cond[0][0], table)
