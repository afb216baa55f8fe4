#!/usr/bin/env bash
# Train toy priors on a lent GPU within one device command and bring their weights back.
# The device machine's python3 holds a CUDA torch; the host travels as `.comfyui`:
#   run(command="bash scripts/device_train_prior.sh 560 proof/configs/prior_gpu_more.json proof/configs/prior_gpu_more_1e4.json", carry=[".comfyui"], timeout_s=600)
# The first argument is the seconds this script may take in all (on an H200, session 19: 90 s of it
# render 30,000 scenes on 16 cores, then two 96-channel runs at batch 256 share the GPU at 0.09 s a
# step each). The configs, trained side by side, must share their scenes and decoder. The steps are
# set here from the rate measured over the first PROBE (300) steps, which lie inside every run's
# warmup, so each run is the one its saved config.json describes (a resumed run equals an
# uninterrupted one). Into $OUT (or out/device): per config NAME (gpu_ and the config's file name),
# NAME.safetensors.part0 and .part1 (the device tool brings back files of up to 16 MiB) and
# NAME.meta.tar (config.json, train_log.json); device.log. Then here:
#   bash scripts/device_train_prior.sh --join /work/.device/N out/NAME   # -> a loadable prior folder out/NAME
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--join" ]; then
  src=$2 dst=$3 name=$(basename "$3")
  mkdir -p "$dst"
  cat "$src/$name.safetensors.part0" "$src/$name.safetensors.part1" > "$dst/toy_prior.safetensors"
  tar -xf "$src/$name.meta.tar" -C "$dst"
  exit
fi

budget=${1:?"seconds this script may take"}; shift
[ $# -ge 1 ] || { echo "give one or more prior configs after the seconds" >&2; exit 2; }
# DEVICE=cpu, with tiny configs and a short PROBE: a dry run (tests/test_device_train_prior.py)
PY=${PY:-python3} DEVICE=${DEVICE:-cuda} PROBE=${PROBE:-300} LOG_EVERY=${LOG_EVERY:-50} WORK=${WORK:-out}
export PYTHONPATH="$PWD/.comfyui:$PWD" PYTHONUNBUFFERED=1
out=${OUT:-out/device}
mkdir -p "$out"
exec > >(tee "$out/device.log") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
# Before any model work: the probe lies in every run's warmup, the runs share their scenes and decoder.
ae=$($PY - "$PROBE" "$@" <<'EOF'
import hashlib, json, os, sys
probe, configs = int(sys.argv[1]), {c: json.load(open(c)) for c in sys.argv[2:]}
for c, cfg in configs.items():
    if cfg["train"]["warmup"] < probe:
        sys.exit(f"{c}: train.warmup {cfg['train']['warmup']} is under the {probe} steps run before the total is "
                 "known; raise it or lower PROBE")
    init = cfg["train"].get("init")
    if init:  # a warm start's parent must be the one it names (proof.train_prior checks the rest)
        path = os.path.join(init["prior"], json.load(open(os.path.join(init["prior"], "config.json")))["weights"])
        if hashlib.file_digest(open(path, "rb"), "sha256").hexdigest() != init["sha256"]:
            sys.exit(f"{c}: train.init.sha256 is not the hash of {path}: the run would not continue those weights")
shared = {c: (cfg["train"]["n_scenes"], cfg["train"]["scene_seed_base"], cfg.get("world"), cfg.get("half_extent"),
              cfg["latent"].get("autoencoder")) for c, cfg in configs.items()}
if len(set(map(json.dumps, shared.values()))) > 1:
    sys.exit(f"the configs differ in their scenes or decoder (n_scenes, scene_seed_base, world, half_extent, "
             f"latent.autoencoder): {shared}")
print(next(iter(shared.values()))[-1])
EOF
)
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

dirs=()
for c in "$@"; do dirs+=("$WORK/gpu_$(basename "$c" .json)"); done
train() {  # config, folder, train_prior arguments
  local c=$1 d=$2; shift 2
  $PY -m proof.train_prior --config "$c" --out "$d" --device "$DEVICE" --log-every "$LOG_EVERY" \
    --checkpoint-every 2000 "$@" 2>&1 | grep --line-buffered -v "torchaudio missing" | sed -u "s|^|[$(basename "$d")] |"
}

# 1. The decoder the configs name, from the bundled weights; the scenes, rendered once on every core.
$PY -m proof.autoencoder --from-prior models/toy_prior --out "$ae" 2>&1 | grep -v "torchaudio missing"
train "$1" "${dirs[0]}" --workers "$(nproc)" --until 1
for d in "${dirs[@]:1}"; do mkdir -p "$d"; cp "${dirs[0]}"/scenes_*.npy "$d"/; done

# 2. PROBE steps of every run side by side: the rate at which they share the GPU.
pids=()  # waited for by id: a bare `wait` would also wait for the log's tee
for i in "${!dirs[@]}"; do train "${@:i+1:1}" "${dirs[i]}" --resume --until "$PROBE" & pids+=($!); done
wait "${pids[@]}" || true
rate=$($PY - "$PROBE" "${dirs[@]}" <<'EOF'
import json, sys
probe, rates = int(sys.argv[1]), []
for d in sys.argv[2:]:  # seconds a step over the probe's second half (the first holds start-up and autotuning)
    log = [(e["step"], e["seconds"]) for e in json.load(open(f"{d}/train_log.json"))["log"]]
    (s0, t0), (s1, t1) = next(e for e in log if e[0] >= probe // 2), log[-1]
    if s1 != probe or s1 == s0:
        sys.exit(f"{d}: the probe logged no second half (steps {[s for s, _ in log]}): lower LOG_EVERY")
    rates.append((t1 - t0) / (s1 - s0))
print(max(rates))
EOF
)
# 3. The steps that fit: what is left, less 25 s to start each process and 35 s to save and copy.
left=$((budget - SECONDS - 60))
steps=$($PY -c "print($PROBE + max(0, int($left / $rate) // 100 * 100))")
echo "== ${rate}s a step side by side, ${left}s left: $steps steps"
pids=()
for i in "${!dirs[@]}"; do
  train "${@:i+1:1}" "${dirs[i]}" --resume --steps "$steps" --max-minutes "$($PY -c "print(($left + 20) / 60)")" &
  pids+=($!)
done
wait "${pids[@]}" || true  # a failed run must not cost the others their weights

# 4. Back to the caller.
for d in "${dirs[@]}"; do
  n=$(basename "$d")
  { split -n 2 -d -a 1 "$d/toy_prior.safetensors" "$out/$n.safetensors.part" &&
    tar -cf "$out/$n.meta.tar" -C "$d" config.json train_log.json; } || echo "== $n: no weights to bring back"
done
ls -l "$out"
