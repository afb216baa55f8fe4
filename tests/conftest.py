"""Shared fixtures. The host runs on the CPU; tiny models are built, never downloaded."""
import comfy.cli_args

comfy.cli_args.args.cpu = True  # before anything imports comfy.model_management

import pytest  # noqa: E402
import torch  # noqa: E402

from harness.checkpoint import write_sd15_checkpoint  # noqa: E402
from harness.client import ComfyClient  # noqa: E402
from harness.server import ComfyServer  # noqa: E402
from harness.tiny_models import tiny_conditioning, tiny_sd15  # noqa: E402

torch.set_flush_denormal(True)  # tiny random weights make denormals; 30x slower without
# Tiny models: one thread is faster than two fighting the server (and each other) for 2 cores.
torch.set_num_threads(1)

# The name the example workflows use for "your SD1.5 checkpoint"; the test server gets a
# random-weight stand-in in the SD1.5 layout under that name.
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory):
    """The real ComfyUI server with only this pack, on a loopback port."""
    server = ComfyServer(workdir=tmp_path_factory.mktemp("comfy"))
    server.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    write_sd15_checkpoint(server.checkpoints_dir / CHECKPOINT)
    server.checkpoint_name = CHECKPOINT
    server.start()
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
