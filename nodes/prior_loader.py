"""DragNeXt Toy Prior Loader: the project's own small diffusion prior (proof/prior.py),
as a host MODEL, a VAE and a fixed CONDITIONING, for demos and the evidence harness
where no real checkpoint is available.

Which prior: a combo of the bundled one and the priors in the host's registered models
folder `dragnext_priors` (ComfyUI/models/dragnext_priors/<name>/config.json, or that key in
extra_model_paths.yaml), as the host's own loaders do. A workflow never names a server
path: a value that is not one of the listed names is refused before any file is looked at,
so a posted graph cannot probe which paths exist or load weights from elsewhere.
"""
import os

import folder_paths
from comfy_api.latest import io

from ..proof.prior import DEFAULT_DIR, load_prior

PRIORS_FOLDER = "dragnext_priors"
BUNDLED = "(bundled) toy_prior"
CONFIG = "config.json"


def register_priors_folder():
    """Register models/dragnext_priors with the host (idempotent); only config.json files
    are listed from it."""
    folder_paths.add_model_folder_path(PRIORS_FOLDER, os.path.join(folder_paths.models_dir, PRIORS_FOLDER))
    folder_paths.folder_names_and_paths[PRIORS_FOLDER][1].add(".json")


register_priors_folder()


def installed_priors() -> dict:
    """name -> folder of each prior in the registered folders: a subfolder holding a
    config.json (names use '/', whatever the OS)."""
    found = {}
    for rel in folder_paths.get_filename_list(PRIORS_FOLDER):
        folder, name = os.path.split(rel)
        if name != CONFIG or not folder:
            continue
        key = folder.replace(os.sep, "/")
        path = folder_paths.get_full_path(PRIORS_FOLDER, rel)
        if key != BUNDLED and path is not None:
            found.setdefault(key, os.path.dirname(path))
    return found


def looks_like_a_path(value: str) -> bool:
    """Absolute, drive-qualified, home-relative or climbing names: never a listed prior."""
    parts = value.replace("\\", "/").split("/")
    return (os.path.isabs(value) or value.startswith(("/", "\\", "~")) or ":" in value
            or any(p in ("", ".", "..") for p in parts))


def resolve(directory: str) -> str:
    """The folder of the prior the combo value names. Empty (workflows from before the
    combo) and BUNDLED are the bundled prior; a path is refused before any file access."""
    if directory in ("", BUNDLED):
        return DEFAULT_DIR
    if looks_like_a_path(directory):
        raise ValueError(f"directory: {directory!r} is a path; this loader only takes '{BUNDLED}' or the name "
                         f"of a prior folder under models/{PRIORS_FOLDER}/ (a subfolder with {CONFIG})")
    priors = installed_priors()
    if directory not in priors:
        raise ValueError(f"directory: no prior named {directory!r} under models/{PRIORS_FOLDER}/; choose "
                         f"'{BUNDLED}' or one of {sorted(priors)}")
    return priors[directory]


class DragNeXtToyPriorLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtToyPriorLoader",
            display_name="DragNeXt Toy Prior Loader",
            category="DragNeXt",
            description="Loads the small SD1.5-family prior this project trained on synthetic scenes "
                        "(128x128 images of coloured shapes). Its VAE maps 8x8 pixels to a latent cell, as SD's does.",
            inputs=[
                io.Combo.Input("directory", options=[BUNDLED, *sorted(installed_priors())], default=BUNDLED,
                               optional=True,
                               tooltip=f"The prior bundled with this node pack, or a prior folder (config.json "
                                       f"and weights) under ComfyUI/models/{PRIORS_FOLDER}/."),
            ],
            outputs=[
                io.Model.Output(display_name="MODEL"),
                io.Vae.Output(display_name="VAE"),
                io.Conditioning.Output(display_name="CONDITIONING",
                                       tooltip="The fixed context the prior was trained with (it has no prompts)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, directory=""):
        # Named here, so the host leaves this input's check to us: "" of old workflows is
        # not among the options.
        try:
            resolve(directory)
        except ValueError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, directory="") -> io.NodeOutput:
        model, vae, conditioning = load_prior(resolve(directory))
        return io.NodeOutput(model, vae, conditioning)
