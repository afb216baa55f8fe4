"""Node settings per preset; the pass counts they fix are in expected_passes()."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    steps: int
    strength: float
    pbsi_timesteps: int
    iterations: int

    @property
    def inverted(self) -> int:
        return round(self.strength * self.steps)

    def expected_passes(self) -> dict:
        """(forward, forward+backward) per stage; denoising passes run at batch 2."""
        n = self.pbsi_timesteps
        return {"inversion": (self.inverted, 0), "PBSI": (2 * n, n * self.iterations),
                "denoise": (self.inverted - n, 0)}


PRESETS = {
    # The reference's figures: 38 inverted steps, 5 PBSI timesteps x 10 iterations.
    "default": Preset(steps=50, strength=0.75, pbsi_timesteps=5, iterations=10),
    # Half the schedule, 3 PBSI timesteps x 5 iterations: about a third of the passes.
    "fast": Preset(steps=25, strength=0.75, pbsi_timesteps=3, iterations=5),
    # One or two passes of each kind: every stage's peak memory (which the pass count does
    # not change) in minutes, e.g. at 512 px on a CPU.
    "probe": Preset(steps=50, strength=0.04, pbsi_timesteps=1, iterations=1),
    # Only to check the benchmark itself end to end in minutes on a small CPU.
    "quick": Preset(steps=10, strength=0.5, pbsi_timesteps=2, iterations=2),
}
