"""Import this node pack in-process, as the host would (a package, relative imports),
with the host used as a library on the CPU.

The repo root is loaded under the package name `dragnext_pack`, so its nodes and
dragnext_ops are the very modules a ComfyUI server would run."""
import importlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "dragnext_pack"


def host_on_cpu():
    """Start the host as `--cpu --use-pytorch-cross-attention` would, before
    comfy.model_management is first imported (on the CPU the host otherwise picks its
    sub-quadratic attention, 25% slower on the toy prior's 256-token layers)."""
    import comfy.cli_args
    if "comfy.model_management" not in sys.modules:
        comfy.cli_args.args.cpu = True
        comfy.cli_args.args.use_pytorch_cross_attention = True


def load_pack():
    """The pack's package module (cached in sys.modules)."""
    host_on_cpu()
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[PACKAGE]
        raise
    return module


def pack_module(name: str):
    """A submodule of the pack, e.g. pack_module("nodes.pbsi_node")."""
    load_pack()
    return importlib.import_module(f"{PACKAGE}.{name}")
