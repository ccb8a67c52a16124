"""PredNAS on AnyNet under a FLOPs constraint (PredNAS Sec. IV-B, 400MF regime), with the auxiliary FLOPs predictor.

    python experiments/prednas_anynet.py [--target 400] [--tolerance 0.05] [--seeds 3] [--out DIR]

No ImageNet accuracy table exists, so the objective is a data-free **proxy**:
``evaluator=params`` (maximise trainable parameters inside the FLOPs interval).
What is checked is the constraint handling: every queried architecture and the
recommendation must lie in [target·(1−tol), target·(1+tol)] MFLOPs by the
space's exact closed-form counter, and the recommendation is also re-counted
on the built network with ``nasframe.spaces.flops.count_flops``.

Random architectures (the N initial samples and every ascent start) are drawn
inside the interval by ``AnyNetSpace.sample_in_range`` (draw, then repair
depth/width; ~3.4 ms per sample, where rejection took ~1.2 s: 1 in ~4,500 uniform draws).
Predictor fitting (3 x 1000 MLP, 300 epochs) dominates the wall time.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from nasframe.api import search
from nasframe.spaces.anynet import AnyNetSpace


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=float, default=400.0)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--alpha", default="0.5,1,2,4", help="alpha grid (cost std per objective std)")
    ap.add_argument("--aux-samples", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--queries", type=int, default=60, help="N=30 random + top-30 of the pool")
    ap.add_argument("--starts", type=int, default=300, help="ascent starts per round (strategy default 300)")
    ap.add_argument("--seed-start", type=int, default=0)
    ap.add_argument("--no-build-check", action="store_true", help="skip re-counting the recommendation on the "
                                                                     "built network")
    ap.add_argument("--out", default=None, help="append one markdown row per seed to DIR/anynet.md")
    args = ap.parse_args(argv)
    space = AnyNetSpace()
    lo, hi = args.target * (1 - args.tolerance), args.target * (1 + args.tolerance)
    cost = (f"strategy.cost={{kind: flops, target: {args.target}, tolerance: {args.tolerance}, "
            f"alpha: [{args.alpha}], aux_samples: {args.aux_samples}}}")
    print(f"interval [{lo:.1f}, {hi:.1f}] MFLOPs; objective: params (proxy evaluator, no ImageNet table)")
    out = None
    if args.out:
        out = Path(args.out) / "anynet.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            out.write_text(f"AnyNet, FLOPs interval [{lo:.1f}, {hi:.1f}] MF, objective params (proxy), "
                           f"alpha grid [{args.alpha}], aux_samples {args.aux_samples}\n\n"
                           "| seed | starts | queries | distinct | inside | outside | rec. MF (closed form) | "
                           "rec. MF (built net) | rec. params M | best random-phase params M | wall s |\n"
                           "|---|---|---|---|---|---|---|---|---|---|---|\n")
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            r = search(["space=anynet", "strategy=prednas_size", "evaluator=params", "benchmark.dataset=imagenet", cost, f"budget.queries={args.queries}",
                        f"strategy.starts={args.starts}",
                        f"seed={seed}"],
                       out_dir=d, progress=False, plot=False)
            hist = [json.loads(x) for x in (Path(d) / "history.jsonl").read_text().splitlines()]
        archs = [space.parse(h["arch"]) for h in hist]
        flops = [space.flops(a) for a in archs]
        inside = [lo <= f <= hi for f in flops]
        rec = space.parse(r.summary["recommended"])
        line = (f"seed {seed}: {len(archs)} queries ({len(set(archs))} distinct), inside the interval "
                f"{sum(inside)}/{len(archs)} (random phase {sum(inside[:30])}/30, predictor phase "
                f"{sum(inside[30:])}/{len(archs) - 30}), FLOPs range {min(flops):.1f}..{max(flops):.1f}; "
                f"recommended {rec} at {space.flops(rec):.1f} MF, {r.summary['values']['params']:.2f} M params; "
                f"best random-phase params {max(h['values']['params'] for h in hist[:30]):.2f} M, "
                f"best predictor-phase {max((h['values']['params'] for h in hist[30:]), default=float('nan')):.2f} M; "
                f"{time.perf_counter() - t:.0f} s")
        wall = time.perf_counter() - t
        built = float("nan")
        if not args.no_build_check:
            from nasframe.spaces.flops import count_flops

            built = count_flops(space.build(rec), space.input_shape())
            line += f"; built-network count {built:.1f} MF"
        print(line, flush=True)
        if out:
            with open(out, "a") as f:
                f.write(f"| {seed} | {args.starts} | {len(archs)} | {len(set(archs))} | {sum(inside)} | "
                        f"{len(archs) - sum(inside)} | {space.flops(rec):.1f} | {built:.1f} | "
                        f"{r.summary['values']['params']:.2f} | "
                        f"{max(h['values']['params'] for h in hist[:30]):.2f} | {wall:.0f} |\n")


if __name__ == "__main__":
    main()
