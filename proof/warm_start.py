"""A warm start: a prior's training that begins at another prior's weights.

`train.init` ({"prior": folder, "sha256": of its weights file}) in a training config starts the
UNet and its EMA from that trained prior's weights instead of random ones, with a fresh optimizer
and the config's own warmup and cosine (proof.train_prior): training that goes on across sessions
whose optimizer state cannot travel (a lent GPU's). The parent must have the config's UNet,
latent and image size; its fixed context is kept. The latent scale may differ: the child then learns
the parent's data at other signal-to-noise ratios (proof/configs/prior_half_scale.json). The run is
reproducible from the parent's weights, which the hash pins.
"""
import hashlib
import os

import safetensors.torch
import torch

from proof import autoencoder, prior

INIT_MUST_MATCH = ("unet", "latent", "image_size")


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _described(config: dict) -> dict:
    """config with its latent's folder left out: the folder may move; the encoder it describes (fixed
    filters, not stored with the weights) may not."""
    return dict(config, latent={k: v for k, v in config.get("latent", {}).items() if k != "autoencoder"})


def warm_start(config: dict) -> tuple:
    """(UNet state dict, context), float32, of the prior config.train.init names, checked against
    config before any scene is rendered: its hash, UNet, latent (its description, and the decoder's
    tensors themselves, not only their folder's name) and image size."""
    init = config["train"]["init"]
    if not isinstance(init, dict) or set(init) != {"prior", "sha256"}:
        raise ValueError(f"config.train.init: expected {{\"prior\": folder, \"sha256\": hex}}, got {init!r}")
    if prior.latent_kind(config) != "conv_ae":
        raise ValueError("config.train.init: a warm start needs a conv_ae latent (a PCA basis is fitted per run)")
    folder = init["prior"]
    parent = prior.load_config(folder)
    path = os.path.join(folder, parent["weights"])
    digest = file_sha256(path)
    if digest != init["sha256"]:
        raise ValueError(f"config.train.init.sha256: {path} hashes to {digest}, not {init['sha256']}; the run "
                         "continues those exact weights: restore them (git show COMMIT:PATH, proof/README.md "
                         "names the commit) and point init.prior at their folder")
    ours, theirs = _described(config), _described(parent)
    for key in INIT_MUST_MATCH:
        if ours.get(key) != theirs.get(key):
            raise ValueError(f"config.{key}: {ours.get(key)!r} differs from the parent's ({theirs.get(key)!r} in "
                             f"{folder}); a warm start keeps the parent's network and latent")
    sd = safetensors.torch.load_file(path)
    if set(prior.PROMPT_KEYS) & set(sd):
        raise ValueError(f"config.train.init: {path} is a prompted prior; a warm start from one, which would "
                         "have to keep its token table, is not supported: start from an unprompted prior")
    context = sd.pop(prior.CONTEXT_KEY).float()
    stored = {k: sd.pop(k) for k in [k for k in sd if k.startswith(autoencoder.AE_PREFIX)]}  # the rest: the UNet
    own = autoencoder.state_dict_for_prior(prior.load_autoencoder(config))
    if own.keys() != stored.keys() or any(not torch.equal(own[k], stored[k].float()) for k in own):
        raise ValueError(f"config.latent: the autoencoder in {config['latent']['autoencoder']} is not the one in "
                         f"{path}; a warm start trains on the parent's latent (proof.autoencoder --from-prior "
                         f"{folder} writes it out)")
    return {k: v.float() for k, v in sd.items()}, context
