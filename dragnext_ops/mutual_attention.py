"""Mutual self-attention: the edited branch attends to the original branch.

The denoising batch is [original, edited]. In the chosen decoder self-attention layers the
edited half's keys and values are computed from the original half's hidden states, so the
edited image keeps the original's appearance while its layout follows the edited latent.
"""
import torch


def share_source_kv(key_states: torch.Tensor, value_states: torch.Tensor):
    """Replace the edited half's key/value inputs by the original half's; queries stay."""
    half = key_states.shape[0] // 2
    if key_states.shape[0] != 2 * half:
        raise ValueError(f"mutual self-attention needs a batch of [original, edited], got {key_states.shape[0]}")
    return (torch.cat([key_states[:half], key_states[:half]]),
            torch.cat([value_states[:half], value_states[:half]]))
