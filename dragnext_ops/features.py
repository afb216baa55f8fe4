"""Decoder features read at feature-grid cells, without building the resized maps.

The method resizes each decoder map bilinearly to half the image resolution and reads
some cells. `sample_cells` gives exactly `F.interpolate(map, grid, mode="bilinear",
align_corners=False)[..., rows, cols]` but touches only four source texels per cell.
"""
import torch


def _source_index(dst: torch.Tensor, in_size: int, out_size: int):
    scale = in_size / out_size
    src = ((dst.to(torch.float32) + 0.5) * scale - 0.5).clamp(min=0.0)
    i0 = src.floor().long().clamp(max=in_size - 1)
    i1 = (i0 + 1).clamp(max=in_size - 1)
    return i0, i1, (src - i0.to(src.dtype))


def sample_cells(maps, rows: torch.Tensor, cols: torch.Tensor, grid) -> torch.Tensor:
    """(C_total, n) features at cells (rows, cols) of the grid, from (1, C, h, w) maps."""
    out = []
    for fmap in maps:
        fmap = fmap[0]
        h, w = fmap.shape[-2:]
        r0, r1, lr = _source_index(rows.to(fmap.device), h, grid[0])
        c0, c1, lc = _source_index(cols.to(fmap.device), w, grid[1])
        lr, lc = lr.to(fmap.dtype), lc.to(fmap.dtype)
        top = fmap[:, r0, c0] * (1 - lc) + fmap[:, r0, c1] * lc
        bottom = fmap[:, r1, c0] * (1 - lc) + fmap[:, r1, c1] * lc
        out.append(top * (1 - lr) + bottom * lr)
    return torch.cat(out, dim=0)
