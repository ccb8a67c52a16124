"""Train one architecture with the full recipe and save the network.

    python -m nasframe.train RUN_FOLDER [key=value ...]
    python -m nasframe.train space=nb201 arch='|nor_conv_3x3~0|+|...|' benchmark.dataset=cifar10 data.root=DATA

A finished run folder gives the architecture (its ``summary.json``
recommendation), the space, the dataset and ``data.root``; otherwise
``space=`` and ``arch=`` say what to train. The recipe is ``evaluator=train``'s
(``conf/evaluator/train.yaml``, NB201's 200 epochs by default); any
``evaluator.*`` override applies. Writes ``model.pt`` (state_dict, the
architecture string, the config) and ``metrics.json`` (validation and test
accuracy, the per-epoch curve, training seconds, the data and split used)
into ``out=`` (default: ``RUN_FOLDER/trained``, or
``runs/trained/<space>-<dataset>/<architecture key>``). Training state is
saved after every epoch under ``out/train_state``; after a kill,
``resume=true`` continues from the last finished epoch. User errors print one
line and exit with status 2.
"""
from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

from nasframe.errors import ConfigError, NasframeError

OWN_KEYS = ("arch", "out", "resume", "progress")


def _split(argv: list[str]) -> tuple[Path | None, dict, list[str]]:
    run, own, overrides = None, {}, []
    for a in argv:
        key, eq, value = a.partition("=")
        if not eq:
            if run is not None:
                raise ConfigError(f"give one run folder, not '{run}' and '{a}'; settings are key=value")
            run = Path(a)
        elif key in OWN_KEYS:
            own[key] = value
        else:
            overrides.append(a)
    return run, own, overrides


def _flag(own: dict, key: str, default: bool) -> bool:
    text = own.get(key, str(default)).lower()
    if text not in ("true", "false"):
        raise ConfigError(f"{key} must be true or false, not '{own[key]}'")
    return text == "true"


def _from_run(run: Path) -> tuple[str, list[str], dict]:
    """(architecture, overrides reproducing the run's space and data, the run's space node)."""
    if not run.is_dir():
        raise ConfigError(f"{run} is not a folder; give a finished run folder or space=... arch='...'")
    summary_path, config_path = run / "summary.json", run / "config.json"
    if not summary_path.is_file() or not config_path.is_file():
        raise ConfigError(f"{run} holds no finished run (summary.json and config.json); finish it with "
                          "resume=true or give space=... arch='...'")
    try:
        summary, config = json.loads(summary_path.read_text()), json.loads(config_path.read_text())
    except ValueError as e:
        raise ConfigError(f"{summary_path} or {config_path} is not valid JSON ({e})") from None
    if not summary.get("recommended"):
        raise ConfigError(f"{run} recommends no architecture (its search evaluated none)")
    names = config.get("names") or {}
    overrides = [f"space={names['space']}"] if names.get("space") else []
    bench, data = config.get("benchmark") or {}, config.get("data") or {}
    for key in ("dataset", "task"):
        if bench.get(key) is not None:
            overrides.append(f"benchmark.{key}={bench[key]}")
    if data.get("root") is not None:
        overrides.append(f"data.root={data['root']}")
    return summary["recommended"], overrides, config.get("space")


def main(argv: list[str] | None = None) -> dict:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except NasframeError as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        sys.exit(2)


def _main(argv: list[str]) -> dict:
    from omegaconf import OmegaConf, open_dict

    from nasframe.api import compose
    from nasframe.compose import instantiate
    from nasframe.core.ledger import atomic_write_bytes, atomic_write_json

    run, own, overrides = _split(argv)
    space_node = None
    if run is not None:
        if "arch" in own:
            raise ConfigError("give a run folder or arch=..., not both")
        arch_text, run_overrides, space_node = _from_run(run)
        overrides = [*run_overrides, *overrides]
    elif "arch" in own:
        arch_text = own["arch"]
    else:
        raise ConfigError("say what to train: a finished run folder, or space=... arch='...'")
    try:
        cfg, names = compose(["evaluator=train", *overrides])
    except Exception as e:  # Hydra's override and composition errors
        raise ConfigError(f"cannot compose the config from {overrides} ({' '.join(str(e).split())})") from None
    if names.get("evaluator") != "train":
        raise ConfigError("python -m nasframe.train always uses evaluator=train; drop the evaluator= override")
    if space_node is not None:
        with open_dict(cfg):
            cfg.space = OmegaConf.create(space_node)
    space = instantiate(cfg.space, "space")
    arch = space.check(space.parse(arch_text))
    # keep_state: the final weights stay in train_state until model.pt is written
    evaluator = instantiate(cfg.evaluator, "evaluator", space=space, checkpoint=False, keep_state=True)
    dataset = evaluator.data.name
    out = Path(own["out"]) if "out" in own else (
        run / "trained" if run is not None else Path("runs") / "trained" / f"{names.get('space')}-{dataset}"
        / evaluator.key(arch))
    resume, progress = _flag(own, "resume", False), _flag(own, "progress", True)
    state = out / "train_state"
    if (out / "metrics.json").exists():
        if not resume:
            raise ConfigError(f"{out} already holds a trained network; pass out= another folder (or "
                              "resume=true to print its metrics)")
        metrics = json.loads((out / "metrics.json").read_text())
        print(f"already trained {metrics['arch']}: val_acc={metrics['val_acc']:.2f} "
              f"test_acc={metrics['test_acc']:.2f} -> {out}")
        return metrics
    if state.exists() and not resume:
        raise ConfigError(f"{out} holds an unfinished training; pass resume=true to continue it or delete {state}")
    result = _train(evaluator, arch, state, progress)
    config = OmegaConf.to_container(cfg, resolve=True)
    import torch

    buf = io.BytesIO()
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
                "arch": str(arch), "space": names.get("space"), "config": config}, buf)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "model.pt", buf.getvalue())
    metrics = {"arch": str(arch), "space": names.get("space"), "epochs": result.epochs,
               "val_acc": result.val_acc, "test_acc": result.test_acc, "train_seconds": result.seconds,
               "curve": result.curve, "failure": result.failure, "evaluator": evaluator.describe()}
    atomic_write_json(out / "metrics.json", metrics)
    shutil.rmtree(state, ignore_errors=True)  # model.pt holds the weights now
    print(f"trained {arch}: val_acc={result.val_acc:.2f} test_acc={result.test_acc:.2f} "
          f"({result.epochs} epochs, {result.seconds:.0f} s) -> {out}")
    return metrics


def _train(evaluator, arch, state: Path, progress: bool):
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=evaluator.epochs, desc=f"training {arch}", unit="epoch", dynamic_ncols=True)

    def report(epoch: int, figures: dict) -> None:
        if bar is not None:
            bar.n = epoch
            bar.set_postfix_str(f"loss {figures['train_loss']:.3f} val {figures['val_acc']:.2f}%")
            bar.refresh()

    try:
        return evaluator.train(arch, evaluator.epochs, progress=report, folder=state)
    finally:
        if bar is not None:
            bar.close()


if __name__ == "__main__":
    main()
