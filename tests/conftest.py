"""Shared fixtures. The host runs on the CPU; tiny models are built, never downloaded."""
import comfy.cli_args

comfy.cli_args.args.cpu = True  # before anything imports comfy.model_management

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from harness.checkpoint import write_sd15_checkpoint  # noqa: E402
from harness.client import ComfyClient  # noqa: E402
from harness.example_scene import CHECKPOINT  # noqa: E402
from harness.server import ComfyServer  # noqa: E402
from harness.tiny_models import tiny_conditioning, tiny_sd15  # noqa: E402

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
torch.set_flush_denormal(True)  # tiny random weights make denormals; 30x slower without
# Tiny models: one thread is faster than two fighting the server (and each other) for 2 cores.
torch.set_num_threads(1)



@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    """The real ComfyUI server with only this pack, on a loopback port."""
    server = ComfyServer(workdir=tmp_path_factory.mktemp("comfy"))
    server.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    write_sd15_checkpoint(server.checkpoints_dir / CHECKPOINT)  # the name the workflows load
    server.checkpoint_name = CHECKPOINT
    server.start()
    for png in WORKFLOWS_DIR.glob("*.png"):  # the pictures the example workflows load
        shutil.copy(png, server.input_dir / png.name)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(comfy_server):
    return ComfyClient(comfy_server.url)


@pytest.fixture
def tiny_model():
    return tiny_sd15(seed=0)


@pytest.fixture
def tiny_cond():
    return tiny_conditioning(seed=0)


@pytest.fixture
def bundled_config(tmp_path):
    """The bundled prior's config for training runs, its autoencoder folder (out/ on the machine
    that trained it) replaced by an untrained autoencoder of the same shape in tmp_path/ae."""
    import json

    from proof import autoencoder, prior
    config = prior.load_config()
    latent = config["latent"]
    ae = autoencoder.ConvAutoencoder(prior.LATENT_CHANNELS, latent["widths"], latent["sigma"], latent["filters"])
    latent["autoencoder"] = autoencoder.save(ae, str(tmp_path / "ae"))
    return json.loads(json.dumps(config))
