"""sample_cells reads exactly what F.interpolate (bilinear, align_corners=False) would put at
the requested cells, edges included."""
import pytest
import torch
import torch.nn.functional as F

from dragnext.dragnext_ops.features import sample_cells


def _cells(grid, g, n=60):
    rows = torch.randint(0, grid[0], (n,), generator=g)
    cols = torch.randint(0, grid[1], (n,), generator=g)
    # every edge and corner of the grid
    edge_r = torch.tensor([0, 0, grid[0] - 1, grid[0] - 1, 0, grid[0] - 1, grid[0] // 2, grid[0] // 2])
    edge_c = torch.tensor([0, grid[1] - 1, 0, grid[1] - 1, grid[1] // 2, grid[1] // 2, 0, grid[1] - 1])
    return torch.cat([rows, edge_r]), torch.cat([cols, edge_c])


@pytest.mark.parametrize("map_hw,grid", [
    ((8, 8), (32, 32)),      # 4x, the tiny model's latent to feature grid
    ((8, 8), (16, 16)),      # 2x
    ((12, 16), (48, 64)),    # non-square, 4x
    ((5, 7), (17, 23)),      # non-integer factors
    ((16, 16), (16, 16)),    # equal size: the map itself
    ((9, 6), (9, 6)),
    ((64, 48), (64, 48)),
])
def test_sample_cells_equals_interpolate(map_hw, grid):
    g = torch.Generator().manual_seed(sum(map_hw) + sum(grid))
    fmap = torch.randn(1, 5, *map_hw, generator=g)
    rows, cols = _cells(grid, g)
    got = sample_cells([fmap], rows, cols, grid)
    full = F.interpolate(fmap, grid, mode="bilinear", align_corners=False)
    expected = full[0][:, rows, cols]
    assert got.shape == (5, rows.numel())
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    if map_hw == grid:
        torch.testing.assert_close(got, fmap[0][:, rows, cols], rtol=0, atol=1e-6)


def test_every_cell_of_the_grid():
    g = torch.Generator().manual_seed(1)
    fmap = torch.randn(1, 3, 6, 10, generator=g)
    grid = (24, 40)
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    got = sample_cells([fmap], rows.flatten(), cols.flatten(), grid)
    full = F.interpolate(fmap, grid, mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, full[0].flatten(1), rtol=1e-5, atol=1e-6)


def test_several_maps_concatenate_channels_and_carry_gradients():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(1, 4, 8, 8, generator=g, requires_grad=True)
    b = torch.randn(1, 6, 16, 16, generator=g, requires_grad=True)
    grid = (32, 32)
    rows, cols = _cells(grid, g, 20)
    got = sample_cells([a, b], rows, cols, grid)
    expected = torch.cat([F.interpolate(m, grid, mode="bilinear", align_corners=False)[0][:, rows, cols]
                          for m in (a, b)])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    w = torch.randn(got.shape, generator=g)
    ga = torch.autograd.grad((got * w).sum(), [a, b])
    ge = torch.autograd.grad((expected * w).sum(), [a, b])
    for x, y in zip(ga, ge):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
