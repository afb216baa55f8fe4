"""DragNeXt's method in pure torch: nothing here imports ComfyUI.

Modules: `spec` (parse and validate drag specs), `regions` (rasterise drawn shapes),
`geometry` (progress schedule, translate/rotate cell mappings), `ddim` (VP DDIM maths),
`features` (sampling decoder features at feature-grid cells), `trajectory` (inversion and
denoising loops), `pbsi` (the optimisation), `mutual_attention` (shared keys/values).
"""
