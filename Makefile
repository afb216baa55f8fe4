# `make test` is what CI runs (.ci/run); `make demo` runs a drag edit through a real
# ComfyUI server. Both build what they need first: .venv/ and the pinned host in .comfyui/.
PY := .venv/bin/python
# The host as a library, the pack as the host loads it (custom_nodes/dragnext), our harness.
export PYTHONPATH := $(CURDIR)/.comfyui:$(CURDIR)/.comfyui/custom_nodes:$(CURDIR)

.PHONY: env browser test demo

env:
	bash scripts/install_env.sh

browser:
	bash scripts/install_browser.sh

test: env browser
	node --test tests/web/*.test.js
	$(PY) -m pytest tests

demo: env
	$(PY) -m harness.demo $(if $(CKPT),--ckpt "$(CKPT)") $(if $(SEED),--seed $(SEED)) $(if $(OP),--op $(OP))
