"""Mutual self-attention as an attn1 patch on a model clone (the host's attention runs)."""
from comfy.ldm.modules.attention import SpatialTransformer

from ..dragnext_ops.mutual_attention import share_source_kv


def decoder_self_attention_layers(diffusion_model) -> list:
    """(output block id, transformer index) of each decoder self-attention, in UNet order.

    SD1.x/SD2.x have 9 and SDXL 36; the default shared range: model_family.py.
    """
    layers = []
    for block_id, block in enumerate(diffusion_model.output_blocks):
        for layer in block:
            if isinstance(layer, SpatialTransformer):
                layers += [(block_id, j) for j, tb in enumerate(layer.transformer_blocks)
                           if not tb.disable_self_attn]
    return layers


def check_from_layer(model_patcher, from_layer: int) -> int:
    """Validates the layer index against the model; returns the number of shared layers."""
    layers = decoder_self_attention_layers(model_patcher.get_model_object("diffusion_model"))
    if not 0 <= from_layer < len(layers):
        raise ValueError(f"mutual_attention_from_layer: this model has {len(layers)} decoder "
                         f"self-attention layers, numbered 0 to {len(layers) - 1} (-1: the family's "
                         f"default); got {from_layer}")
    return len(layers) - from_layer


def with_mutual_attention(model_patcher, from_layer: int):
    """A clone whose decoder self-attention layers from `from_layer` on let the edited half
    of a [original, edited] batch attend to the original half's keys and values."""
    check_from_layer(model_patcher, from_layer)
    patched = model_patcher.clone()
    layers = decoder_self_attention_layers(patched.get_model_object("diffusion_model"))
    shared = set(layers[from_layer:])

    def mutual_self_attention(n, context, value, extra_options):
        block = extra_options.get("block")
        if block and block[0] == "output" and (block[1], extra_options.get("block_index", 0)) in shared:
            context, value = share_source_kv(context, value)
        return n, context, value

    patched.set_model_attn1_patch(mutual_self_attention)
    return patched
