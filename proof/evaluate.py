"""Measure DragNeXt against baselines and ablations on scenes with exact ground truth.

    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.evaluate --scenes 30 --out out/eval

Every method runs through the pack's nodes on the host with the committed toy prior
(nodes/prior_loader.py). Writes OUT/results.md (per method and operation: IoU, DAI,
PSNR/SSIM outside the editable mask, L1 in the handle and target regions, seconds per
edit; then IoU and DAI by the dragged object's kind), OUT/results.json (every scene's
figures) and OUT/contact_sheet.png.
Evaluation seeds start at 0; the prior was trained on seeds from 1,000,000 on.
"""
import argparse
import json
import os
import time

from proof.pack import host_on_cpu

host_on_cpu()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from proof import methods as M  # noqa: E402
from proof.scene_metrics import COLOUR_TOLERANCE, scene_metrics  # noqa: E402
from proof.contact_sheet import contact_sheet  # noqa: E402
from proof.pack import pack_module  # noqa: E402
from proof.prompt import scene_conditioning  # noqa: E402
from proof.scenes import OP_TYPES, World, make_scene  # noqa: E402

METRICS = ("iou", "dai", "psnr_out", "ssim_out", "l1_handle", "l1_target", "seconds")


def load_toy_prior(directory: str | None):
    """The committed prior through its loader node; another folder (a prior trained into
    out/) directly, since the node takes no paths."""
    if directory:
        return pack_module("proof.prior").load_prior(directory)
    return pack_module("nodes.prior_loader").DragNeXtToyPriorLoader.execute("").result


def evaluate(n_scenes: int, out_dir: str, settings: M.Settings, op_types=OP_TYPES, prior_dir=None,
             method_names=None, colour_tolerance: float = COLOUR_TOLERANCE, sheet_scenes: int = 2, first_seed: int = 0,
             resume: bool = False, log=print) -> dict:
    """The table over n_scenes scenes per operation, drawn from the prior's world (its
    config's, as it was trained: scenes.World.of). With `resume`, the rows already in
    out_dir/results.json (same settings, prior and first seed) are kept and not run again, so a table
    of many hours can be built over several sittings, or one method group at a time."""
    if n_scenes < 1:
        raise ValueError("n_scenes must be at least 1")
    prior = pack_module("proof.prior")  # the module the loader node uses
    prior_id = os.path.realpath(prior_dir or prior.DEFAULT_DIR)
    rows = previous_rows(out_dir, settings, prior_id, first_seed) if resume else []
    world = World.of(prior.load_config(prior_dir or prior.DEFAULT_DIR))
    for r in rows:  # rows written before they recorded the dragged object's kind
        if "object" not in r:
            r["object"] = dragged_kind(make_scene(r["seed"], r["op"], world=world))
    torch.manual_seed(0)
    model, vae, cond = load_toy_prior(prior_dir)
    table = prior.prompt_table(prior_dir or prior.DEFAULT_DIR)  # a prompted prior edits with each scene's prompt
    methods = M.all_methods(settings)
    if method_names:
        unknown = set(method_names) - set(methods)
        if unknown:
            raise ValueError(f"unknown methods {sorted(unknown)}; known: {list(methods)}")
        methods = {k: v for k, v in methods.items() if k in method_names}
    done = {(r["method"], r["op"], r["seed"]) for r in rows}
    names = list(dict.fromkeys([r["method"] for r in rows] + list(methods)))
    ops = [o for o in OP_TYPES if o in {r["op"] for r in rows} | set(op_types)]
    sheet_path = os.path.join(out_dir, "contact_sheet.png")
    sheet_scenes = 0 if resume and os.path.isfile(sheet_path) else sheet_scenes  # the first sitting's stays
    sheet = []
    for k in range(n_scenes):  # seeds outermost: a stopped run still covers every type
        seed = first_seed + k
        for op_type in op_types:
            todo = {n: run for n, run in methods.items() if (n, op_type, seed) not in done}
            if not todo:
                continue
            scene = make_scene(seed, op_type, world=world)
            shared, outputs = {}, {}
            scene_cond = scene_conditioning(cond, table, scene)
            for name, run in todo.items():
                edited, seconds = run(model, vae, scene_cond, scene, shared)
                row = {"method": name, "op": op_type, "seed": seed, "object": dragged_kind(scene), "seconds": seconds,
                       "prior": prior_id}
                row.update(scene_metrics(scene, edited, colour_tolerance))
                rows.append(row)
                outputs[name] = edited
            log(f"{op_type} {seed}: " + ", ".join(
                f"{r['method']}: IoU {r['iou']:.2f} DAI {r['dai']:.4f}" for r in rows[-len(todo):]))
            if k < sheet_scenes and len(todo) == len(methods):
                sheet.append((scene, outputs))
            write_results(out_dir, rows, names, ops, k + 1, settings, first_seed)  # a stopped sitting loses little
        if k + 1 == min(sheet_scenes, n_scenes) and sheet:  # early, so a stopped run has it too
            contact_sheet(sheet, list(methods), sheet_path)
    summary = write_results(out_dir, rows, names, ops, n_scenes, settings, first_seed)
    return summary


def dragged_kind(scene) -> str:
    """The world kind (disc, rect, triangle, ...) of the scene's dragged objects, joined by + if several."""
    return "+".join(sorted({scene.objects[op["object"]]["kind"] for op in scene.operations}))


def previous_rows(out_dir: str, settings: M.Settings, prior_id: str, first_seed: int) -> list:
    """The rows of out_dir/results.json, which must be of these settings, this prior (its real
    path) and this first seed."""
    path = os.path.join(out_dir, "results.json")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        saved = json.load(f)
    if saved["settings"] != settings.__dict__:
        raise ValueError(f"--resume: {path} was run with settings {saved['settings']}, not {settings.__dict__}; "
                         f"use another --out")
    priors = {r.get("prior") for r in saved["rows"]}
    if priors - {prior_id}:
        raise ValueError(f"--resume: {path} holds rows of prior {sorted(map(str, priors))}, not {prior_id}; "
                         f"use another --out")
    if saved.get("first_seed") != first_seed:
        raise ValueError(f"--resume: {path} starts at seed {saved.get('first_seed')}, not {first_seed}; "
                         f"use another --out or its --first-seed")
    return saved["rows"]


def write_results(out_dir, rows, method_names, op_types, n_scenes, settings, first_seed: int = 0) -> dict:
    """(Re)write results.json and results.md for the scenes so far."""
    summary, kinds = summarise(rows, method_names, op_types), by_object(rows, method_names, op_types)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"settings": settings.__dict__, "first_seed": first_seed, "n_scenes": n_scenes, "rows": rows,
                   "summary": summary, "by_object": kinds}, f, indent=1)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(summary, method_names, op_types, n_scenes, settings)
                + markdown_by_object(kinds))
    return summary


def summarise(rows, method_names, op_types) -> dict:
    out = {}
    for m in method_names:
        for op in list(op_types) + ["all"]:
            sel = [r for r in rows if r["method"] == m and (op == "all" or r["op"] == op)]
            if sel:
                out[f"{m}|{op}"] = {k: float(np.mean([min(r[k], 100.0) for r in sel])) for k in METRICS}
                out[f"{m}|{op}"]["n"] = len(sel)
    return out


def by_object(rows, method_names, op_types) -> dict:
    """"method|operation|kind" -> mean IoU and DAI, and n, over the scenes whose dragged object is of
    that kind: which shapes an edit fails on."""
    out = {}
    for m in method_names:
        for op in op_types:
            sel = [r for r in rows if r["method"] == m and r["op"] == op]
            for kind in sorted({r["object"] for r in sel}):
                of = [r for r in sel if r["object"] == kind]
                out[f"{m}|{op}|{kind}"] = {"iou": float(np.mean([r["iou"] for r in of])),
                                           "dai": float(np.mean([r["dai"] for r in of])), "n": len(of)}
    return out


def markdown_by_object(table: dict) -> str:
    lines = ["", "## By the dragged object's kind", "", "| method | operation | object | scenes | IoU | DAI |",
             "|---|---|---|---|---|---|"]
    for key, s in table.items():
        m, op, kind = key.split("|")
        lines.append(f"| {m} | {op} | {kind} | {s['n']} | {s['iou']:.3f} | {s['dai']:.5f} |")
    return "\n".join(lines) + "\n"


def markdown(summary, method_names, op_types, n_scenes, settings) -> str:
    lines = [f"# DragNeXt on the toy prior: up to {n_scenes} scenes per operation",
             "", f"Settings: `{json.dumps(settings.__dict__)}`", "",
             "IoU: edited object vs its ground-truth pose (higher is better). DAI: GoodDrag's index, "
             "radius 5 at 128 px (lower). PSNR/SSIM: outside the editable mask, vs ground truth (higher; "
             "PSNR capped at 100 dB per scene). L1: inside the handle / target regions vs ground truth (lower).",
             "", "| method | operation | scenes | IoU | DAI | PSNR out (dB) | SSIM out | L1 handle | L1 target | s / edit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in method_names:
        for op in list(op_types) + ["all"]:
            s = summary.get(f"{m}|{op}")
            if s is None:
                continue
            lines.append(f"| {m} | {op} | {s['n']} | {s['iou']:.3f} | {s['dai']:.5f} | {s['psnr_out']:.2f} | "
                         f"{s['ssim_out']:.4f} | {s['l1_handle']:.4f} | {s['l1_target']:.4f} | {s['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=30, help="scenes per operation type")
    ap.add_argument("--out", default="out/eval")
    ap.add_argument("--ops", nargs="+", default=list(OP_TYPES), choices=OP_TYPES)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--prior", default=None, help="toy prior folder (default: models/toy_prior)")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="0: the evaluation seeds; development runs (tuning) use 502,000 on")
    ap.add_argument("--quick", action="store_true", help="10 DDIM steps, 3 PBSI timesteps x 4 iterations")
    ap.add_argument("--resume", action="store_true",
                    help="keep OUT/results.json's rows (same settings, prior and first seed) and run only what is missing")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = M.Settings.quick() if args.quick else M.Settings()
    t0 = time.time()
    evaluate(args.scenes, args.out, settings, tuple(args.ops), args.prior, args.methods, first_seed=args.first_seed,
             resume=args.resume)
    print(f"wrote {args.out}/results.md in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
