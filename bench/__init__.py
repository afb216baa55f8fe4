"""Speed and memory benchmark of a full DragNeXt edit (see bench/run.py)."""
