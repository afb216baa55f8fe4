"""Half precision: PBSI's loss-gradient per feature element is tiny (10 / (channels x cells)),
under float16's normal range, so gradients through a float16 UNet vanish without a loss
scale. A small float16 model whose feature gradients land below float16's subnormal range
(its features carry a 3e-5 factor, applied in float16) shows it."""
import numpy as np
import pytest
import torch

from dragnext.dragnext_ops.ddim import Schedule, sd15_alphas_cumprod
from dragnext.dragnext_ops.features import sample_cells
from dragnext.dragnext_ops.pbsi import FEATURE_WEIGHT, PBSIConfig, loss_scaled_step, run_pbsi
from dragnext.dragnext_ops.spec import DragOperation, DragSpec

SIZE = 64
GRID = (32, 32)
CHANNELS = 1024       # with ~600 cells: dL/dF = 10 / 6e5 = 1.6e-5 per element, subnormal in float16
FEATURE_SCALE = 3e-5  # through this factor: under float16's smallest subnormal (6e-8) at every texel


class HalfNet(torch.nn.Module):
    """A UNet stand-in computing in `dtype`: eps and one wide feature map from z."""

    def __init__(self, dtype):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(4, CHANNELS, 3, padding=1)
        self.b = torch.nn.Conv2d(CHANNELS, 4, 1)
        for p in self.parameters():
            p.data.normal_(0, 0.05)
        self.to(dtype).requires_grad_(False)
        self.dtype = dtype

    def forward(self, z, t, features=False):
        h = torch.tanh(self.a(z.to(self.dtype)))
        return self.b(h).float(), [h * FEATURE_SCALE]


def region():
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[8:56, 8:40] = True
    return m


def gradient(net, z, scaled: bool) -> torch.Tensor:
    """dL/dz of PBSI's feature term for a 4-cell drag, as taken through loss_scaled_step."""
    rows, cols = torch.nonzero(torch.from_numpy(region()[::2, ::2]), as_tuple=True)
    with torch.no_grad():
        ref = sample_cells(net(z, 0)[1], rows, cols, GRID)
    z = z.clone().requires_grad_(True)
    current = sample_cells(net(z, 0)[1], rows, cols + 4, GRID)
    loss = FEATURE_WEIGHT * (current.float() - ref.float()).abs().mean()
    # the step leaves the unscaled gradient on z (a zero learning rate keeps z itself)
    loss_scaled_step(torch.amp.GradScaler("cpu", enabled=scaled))(loss, torch.optim.SGD([z], lr=0.0))
    return z.grad


def cosine(a, b):
    return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()


def test_float16_gradients_need_the_loss_scale():
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    exact = gradient(HalfNet(torch.float32), z, scaled=False)
    assert (exact == 0).sum() == 0
    scaled = gradient(HalfNet(torch.float16), z, scaled=True)
    unscaled = gradient(HalfNet(torch.float16), z, scaled=False)
    assert cosine(scaled, exact) >= 0.99 and (scaled == 0).sum() == 0
    assert (unscaled == 0).all()                                      # vanished
    # bfloat16 has float32's exponent range: no scale needed
    bf16 = gradient(HalfNet(torch.bfloat16), z, scaled=False)
    assert cosine(bf16, exact) >= 0.98 and (bf16 == 0).sum() == 0


def test_pbsi_with_a_float16_unet_follows_the_float32_edit_only_with_the_loss_scale():
    spec = DragSpec(SIZE, SIZE, [DragOperation("translate", (20.0, 32.0), (28.0, 32.0), None, region())], None)
    schedule = Schedule(tuple(sd15_alphas_cumprod().tolist()), (741, 721), 20)
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))

    def moved(dtype, scaled):
        config = PBSIConfig(timesteps=1, iterations=2, lr=0.05, schedule="final", loss_scaling=scaled)
        net = HalfNet(dtype)
        plain = PBSIConfig(timesteps=1, iterations=1, lr=1e-12, schedule="final")
        base = run_pbsi(net, z, schedule, spec, plain).edited          # the same path, (almost) no edit
        return run_pbsi(net, z, schedule, spec, config).edited - base

    exact = moved(torch.float32, False)
    assert exact.abs().max() > 1e-3
    assert cosine(moved(torch.float16, True), exact) >= 0.95
    assert cosine(moved(torch.float16, False), exact) < 0.8


def test_the_node_scales_the_loss_when_the_unet_computes_in_float16(tiny_model):
    from dragnext.nodes.pbsi_node import unet_compute_dtype
    assert unet_compute_dtype(tiny_model) == torch.float32
    tiny_model.model.manual_cast_dtype = torch.float16     # a fresh model of the fixture's own
    assert unet_compute_dtype(tiny_model) == torch.float16
    tiny_model.model.manual_cast_dtype = torch.bfloat16
    assert unet_compute_dtype(tiny_model) == torch.bfloat16


@pytest.mark.parametrize("scaled", [False, True])
def test_an_overflowing_step_is_skipped_and_the_scale_backs_off(scaled):
    z = torch.zeros(3, requires_grad=True)
    optimizer = torch.optim.Adam([z], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16, enabled=scaled)
    loss = (z.half() * torch.tensor(1e4, dtype=torch.float16)).sum().float()   # x 65536 overflows float16
    loss_scaled_step(scaler)(loss, optimizer)
    if scaled:
        assert torch.equal(z.detach(), torch.zeros(3)) and scaler.get_scale() == 2.0 ** 15
    else:
        assert (z.detach() < 0).all()
