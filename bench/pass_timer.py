"""Per-pass UNet timing, plugged into nodes.host_unet.PassMeter.timer by the benchmark.

A forward pass is timed around the host's guider call. A forward+backward pass adds the
backward through the UNet: from the first gradient reaching any UNet output (eps or a
feature map) to the gradient reaching its input, caught with autograd hooks, so the
loss, Adam and bookkeeping stay outside and count as overhead.
"""
import time
from collections import defaultdict

import torch


class PassTimer:
    def __init__(self, device: torch.device):
        # Host-device sync only on an accelerator, and only while benchmarking: queued
        # kernels would otherwise be timed when launched, not when done.
        self._sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        self.times = defaultdict(lambda: {"forward": [], "forward_backward": []})

    def now(self) -> float:
        self._sync()
        return time.perf_counter()

    def start(self) -> float:
        return self.now()

    def stop(self, stage: str, started: float, x, outputs, backward: bool):
        forward = self.now() - started
        if not backward:
            self.times[stage]["forward"].append(forward)
            return
        begun = []
        outputs = [o for o in outputs if o.requires_grad]

        def first_output_grad(_):
            begun.append(self.now())

        def input_grad(grad):
            self.times[stage]["forward_backward"].append(forward + self.now() - begun[0])
            return grad

        torch.autograd.graph.register_multi_grad_hook(outputs, first_output_grad, mode="any")
        x.register_hook(input_grad)

    def totals(self, stage: str) -> dict:
        t = self.times[stage]
        return {kind: (len(v), sum(v)) for kind, v in t.items()}
