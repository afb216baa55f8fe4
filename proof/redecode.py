"""A prior with another decoder. On a fixed filterbank latent (proof.autoencoder --sigma) the
UNet never sees the decoder, so a decoder trained longer or wider replaces the stored one
without retraining the UNet, as long as the encoder is the same (sigma, filters, channels, stride).

    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.redecode --prior out/prior_iso4 --autoencoder out/ae_x --out out/prior_iso4_x

Writes OUT/config.json (the prior's, with the new autoencoder's folder and widths), the
weights (the prior's UNet and context, the new autoencoder) and the prior's train_log.json, its
reconstruction figure the new decoder's (the old one kept as previous_decoder_reconstruction_l1).
"""
import argparse
import json
import os


def redecode(prior_dir: str, autoencoder_dir: str, out_dir: str) -> dict:
    """The new prior's config; ValueError before anything is written when the two encoders differ."""
    import safetensors.torch

    from . import autoencoder, prior
    config = prior.load_config(prior_dir)
    latent = config.get("latent", {})
    if prior.latent_kind(config) != "conv_ae" or latent.get("sigma") is None:
        raise ValueError(f"{prior_dir}: only a prior on a fixed filterbank latent (config.latent.sigma) can change "
                         "its decoder; a learned encoder's latent changes with its decoder's training")
    with open(os.path.join(autoencoder_dir, "autoencoder.json")) as f:
        meta = json.load(f)
    theirs = {"sigma": meta.get("sigma"), "filters": meta.get("filters") or "jet",
              "latent_channels": meta.get("latent_channels"), "stride": meta.get("stride", autoencoder.STRIDE)}
    ours = {"sigma": latent["sigma"], "filters": latent.get("filters", "jet"), "latent_channels": prior.LATENT_CHANNELS,
            "stride": prior.latent_stride(config)}
    for key in ours:
        if theirs[key] != ours[key]:
            raise ValueError(f"{autoencoder_dir}: its encoder's {key} is {theirs[key]!r}, the prior's is {ours[key]!r}; "
                             "the UNet was trained on the prior's latent")
    if meta.get("half_extent") and config.get("half_extent") and list(meta["half_extent"]) != list(config["half_extent"]):
        raise ValueError(f"{autoencoder_dir}: trained on objects of half extent {meta['half_extent']}, the prior's world "
                         f"has {config['half_extent']}")
    if os.path.realpath(out_dir) == os.path.realpath(prior_dir):
        raise ValueError("--out must be another folder than --prior (the prior's own weights are kept)")
    weights = safetensors.torch.load_file(os.path.join(prior_dir, config["weights"]))
    weights = {k: v for k, v in weights.items() if not k.startswith(autoencoder.AE_PREFIX)}
    weights.update(autoencoder.state_dict_for_prior(autoencoder.load(autoencoder_dir)))
    new = dict(config, latent=dict(latent, autoencoder=autoencoder_dir, widths=list(meta["widths"])))
    os.makedirs(out_dir, exist_ok=True)
    safetensors.torch.save_file(weights, os.path.join(out_dir, config["weights"]))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(new, f, indent=2)
    log_path = os.path.join(prior_dir, "train_log.json")
    if os.path.isfile(log_path):  # the UNet's history; the reconstruction figure is the new decoder's
        with open(log_path) as f:
            log = json.load(f)
        log.update(latent_reconstruction_l1=meta.get("reconstruction_l1"), decoder_from=autoencoder_dir,
                   previous_decoder_reconstruction_l1=log.get("latent_reconstruction_l1"))
        with open(os.path.join(out_dir, "train_log.json"), "w") as f:
            json.dump(log, f, indent=1)
    return new


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", required=True, help="a prior folder (proof.train_prior's output)")
    ap.add_argument("--autoencoder", required=True, help="a proof.autoencoder folder with the same fixed encoder")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    from .pack import host_on_cpu
    host_on_cpu()  # before proof.prior imports the host
    redecode(args.prior, args.autoencoder, args.out)
    print(f"wrote {args.out}: the UNet of {args.prior}, the decoder of {args.autoencoder}")


if __name__ == "__main__":
    main()
