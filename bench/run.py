"""Benchmark a full DragNeXt edit on a real UNet architecture (SD1.5, SD2.x, SDXL) with random weights.

    PYTHONPATH=$PWD/.comfyui:$PWD/.comfyui/custom_nodes:$PWD nice .venv/bin/python -m bench.run [--quick]

Runs the four nodes' execute methods in-process (the host as a library) and prints, per
stage, UNet forward and forward+backward passes with their time, wall time and peak
memory; then total wall time over the time of those passes (the unavoidable part).
On a CUDA machine it runs there, in the host's chosen dtype (fp16/bf16) and attention.
"""
import argparse

import torch

import comfy.cli_args

comfy.cli_args.args.cpu = not torch.cuda.is_available()  # before comfy.model_management loads

import comfy.ldm.modules.attention as attention  # noqa: E402
import comfy.model_management as mm  # noqa: E402

from dragnext.nodes.feature_taps import DEFAULT_FEATURE_LAYERS, FEATURE_LAYERS  # noqa: E402

from . import calibrate, model, report  # noqa: E402
from .edit import run_edit  # noqa: E402
from .presets import PRESETS  # noqa: E402

DTYPES = {"auto": None, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the 'quick' preset at 256 px: checks the benchmark in minutes")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default")
    p.add_argument("--model", choices=sorted(model.FAMILIES), default="sd15",
                   help="the real UNet architecture: sd15 (SD1.5), sd2 (SD2.x 768-v, v-prediction), sdxl (SDXL base)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (multiple of 8; native: sd15 512, "
                                                          "sd2 768, sdxl 1024)")
    p.add_argument("--activation-checkpointing", action="store_true", help="the PBSI input of that name on")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="auto", help="UNet dtype; auto: the host's choice")
    p.add_argument("--feature-layers", choices=FEATURE_LAYERS, default=DEFAULT_FEATURE_LAYERS)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--warmup", type=int, choices=[0, 1], default=None,
                   help="first run an untimed quick edit at the same size, so model loading and kernel "
                        "selection stay out of the figures (default: 1 on a GPU, 0 on the CPU)")
    p.add_argument("--calibrate", type=int, default=0, metavar="REPS",
                   help="also time REPS bare UNet passes of each kind after the edit, to expose overhead inside the "
                        "timed passes (noisy on a loaded CPU; 0: skip)")
    args = p.parse_args(argv)
    if args.calibrate and args.model != "sd15":
        p.error("--calibrate: the bare passes are SD1.5's (no SDXL size embedding); use it with --model sd15")
    if args.quick:
        args.preset, args.size = "quick", 256
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_flush_denormal(True)  # random weights make denormals: up to 30x slower on CPU
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    device = mm.get_torch_device()
    patcher = model.family_model(args.model, dtype=DTYPES[args.dtype])
    cond = model.conditioning(family=args.model)
    print(f"device {device} ({mm.get_torch_device_name(device)}), UNet dtype {patcher.model.get_dtype()}, "
          f"compute {patcher.model.manual_cast_dtype or patcher.model.get_dtype()}, threads {torch.get_num_threads()}, "
          f"attention {attention.optimized_attention.__name__}, {args.size} px, preset {args.preset} {preset}, "
          f"features {args.feature_layers}, model {args.model}"
          f"{', activation checkpointing' if args.activation_checkpointing else ''}", flush=True)

    warmup = device.type == "cuda" if args.warmup is None else args.warmup
    if warmup:
        run_edit(patcher, cond, args.size, PRESETS["quick"], device, args.feature_layers,
                 activation_checkpointing=args.activation_checkpointing)
    stages = run_edit(patcher, cond, args.size, preset, device, args.feature_layers,
                      on_stage=lambda s: print(f"  {s.name} done: wall {s.wall:.2f} s", flush=True),
                      activation_checkpointing=args.activation_checkpointing)
    print(report.stage_table(stages, device))
    for problem in report.count_check(stages, preset):
        print("PASS COUNT MISMATCH:", problem)

    wall = sum(s.wall for s in stages)
    passes = sum(s.pass_time for s in stages)
    print(f"total wall {wall:.2f} s, UNet passes {passes:.2f} s, overhead {wall - passes:.2f} s")
    if args.calibrate:
        bare = calibrate.bare_pass_times(patcher, (args.size // 8, args.size // 8), cond[0][0], args.calibrate)
        floor = report.bare_floor(stages, bare)
        print("bare UNet pass s: " + ", ".join(f"{k} {v:.3f}" for k, v in bare.items())
              + f"; the edit's passes as bare passes: {floor:.2f} s (wall / that: {wall / floor:.3f})")
    print(f"RATIO wall / UNet pass time = {wall / passes:.3f}")


if __name__ == "__main__":
    main()
