"""DragNeXt Toy Prior Loader: the project's own small diffusion prior (proof/prior.py),
as a host MODEL, a VAE and a fixed CONDITIONING, for demos and the evidence harness
where no real checkpoint is available."""
import os

from comfy_api.latest import io

from ..proof.prior import DEFAULT_DIR, load_config, load_prior


class DragNeXtToyPriorLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtToyPriorLoader",
            display_name="DragNeXt Toy Prior Loader",
            category="DragNeXt",
            description="Loads the small SD1.5-family prior this project trained on synthetic scenes "
                        "(128x128 images of coloured shapes). Its VAE is an exact 8x8 pixel-patch encoding.",
            inputs=[
                io.String.Input("directory", default="", optional=True,
                                tooltip="Folder with config.json and the weights; empty: the prior bundled "
                                        "with this node pack (models/toy_prior)."),
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
        d = directory or DEFAULT_DIR
        if not os.path.isfile(os.path.join(d, "config.json")):
            return f"directory: no config.json in {d}"
        return True

    @classmethod
    def execute(cls, directory="") -> io.NodeOutput:
        d = directory or DEFAULT_DIR
        load_config(d)  # raises with the path when the folder is not a toy prior
        model, vae, conditioning = load_prior(d)
        return io.NodeOutput(model, vae, conditioning)
