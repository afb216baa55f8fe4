"""Test and demo infrastructure: generated models, the real ComfyUI server, its API.

Not part of the node pack (the host never imports it).
"""
