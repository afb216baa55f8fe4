"""The benchmark's printed table."""
from . import memory

GB = 1024 ** 3


def stage_table(stages, device) -> str:
    rows = [f"{'stage':<10} {'fwd':>4} {'fwd s':>8} {'f+b':>4} {'f+b s':>8} {'pass s':>8} {'wall s':>8} "
            f"{'overhead s':>10} {memory.peak_label(device) + ' GB':>20}"]
    for s in stages:
        rows.append(f"{s.name:<10} {s.forward[0]:>4} {s.forward[1]:>8.2f} {s.forward_backward[0]:>4} "
                    f"{s.forward_backward[1]:>8.2f} {s.pass_time:>8.2f} {s.wall:>8.2f} {s.wall - s.pass_time:>10.2f} "
                    f"{s.peak / GB:>20.2f}")
    return "\n".join(rows)


def count_check(stages, preset) -> list:
    """Mismatches between the passes run and the passes the preset fixes (empty: none)."""
    problems = []
    for s in stages:
        want = preset.expected_passes().get(s.name)
        got = (s.forward[0], s.forward_backward[0])
        if want is not None and got != want:
            problems.append(f"{s.name}: ran {got} (forward, forward+backward) passes, the preset fixes {want}")
        if s.counted is not None and (s.counted["forward"], s.counted["forward_backward"]) != got:
            problems.append(f"{s.name}: the node's PassMeter counted {s.counted}, the timer {got}")
    return problems


def bare_floor(stages, bare: dict) -> float:
    """What the stages' passes would cost as bare UNet passes (denoising runs at batch 2)."""
    total = 0.0
    for s in stages:
        fwd = bare["forward_b2"] if s.name == "denoise" else bare["forward_b1"]
        total += s.forward[0] * fwd + s.forward_backward[0] * bare["forward_backward_b1"]
    return total
