"""`python -m training rebuild NAME`: replay a model's lineage (`recipes.LINEAGES`) stage by stage, then
export the last stage.

Everything goes under `<out>/rebuild/<NAME>/`: one run folder per stage (named after it), `rebuild.json`
listing the stages finished, and `onnx/` with the exported files (copy them to onnx_models/ to ship them). A
stage starts from the previous stage's run folder, or from its exported files where the stage did so (a
fresh critic). Run it again after an interruption: finished stages are skipped, and a stage whose folder
holds a last.pt goes on from it (`train --resume`).
"""

import json
from functools import partial
from pathlib import Path

from training.export import export_checkpoint
from training.recipes import Stage, lineage_stages, stage_config
from training.resume import LAST, load_last, resume_config
from training.train import train
from training.widen import widen_checkpoint

STATE = "rebuild.json"


def rebuild(
    name: str,
    *,
    until: str | None = None,
    out: Path = Path("runs"),
    data_dir: Path | None = None,
    threads: int | None = None,
    device: str = "cpu",
    amp: bool = False,
) -> Path | None:
    """Train the stages of lineage `name` up to `until` that are not finished yet and export the last one;
    return the first exported file, or None where a stage was interrupted (a later call resumes it)."""
    stages = lineage_stages(name, until)
    folder = Path(out) / "rebuild" / name
    folder.mkdir(parents=True, exist_ok=True)
    finished = read_finished(folder)
    for stage in stages:
        if stage.name in finished:
            print(f"{name}/{stage.name}: finished already ({folder / stage.name})")
            continue
        print(f"{name}/{stage.name}: {stage.why}")
        run_dir = folder / stage.name
        run_stage = partial(
            train, run_dir=run_dir, data_dir=data_dir, threads=threads, device=device, amp=amp
        )
        if (run_dir / LAST).is_file():
            run_stage(resume_config(run_dir, {}), resume=True)
        else:
            run_stage(stage_config(name, stage), init=starting_point(folder, stage, data_dir))
        if not stopped_by_its_rule(run_dir):
            print(f"{name}/{stage.name} was interrupted: rebuild again to resume it")
            return None
        finished.append(stage.name)
        write_finished(folder, finished)
    final = folder / stages[-1].name
    return export_checkpoint(final, out_dir=folder / "onnx", data_dir=data_dir)


def starting_point(folder: Path, stage: Stage, data_dir: Path | None) -> Path | None:
    """What a stage starts from: nothing, the `init` stage's run folder, or (`from_files`) the files that
    stage exports, which leave out what the app does not need (a critic), as the original stage's did;
    widened first where the stage says so (`widen_to`)."""
    if not stage.init:
        return None
    source = folder / stage.init
    if stage.from_files:
        source = export_checkpoint(source, out_dir=source / "onnx", data_dir=data_dir)
    if stage.widen_to:
        widened = folder / f"{stage.name}-widened.pt"
        widen_checkpoint(source, stage.widen_to, widened)
        return widened
    return source


def stopped_by_its_rule(run_dir: Path) -> bool:
    """Whether the run ended by its own rule (budget, patience, epochs) rather than an interruption."""
    return (run_dir / LAST).is_file() and bool(load_last(run_dir)["loop"]["stopped"])


def read_finished(folder: Path) -> list[str]:
    """The stages finished in a rebuild folder."""
    path = folder / STATE
    return json.loads(path.read_text())["finished"] if path.is_file() else []


def write_finished(folder: Path, finished: list[str]) -> None:
    """Record the finished stages (a temporary file, then rename: never half written)."""
    tmp = folder / (STATE + ".tmp")
    tmp.write_text(json.dumps({"finished": finished}, indent=2) + "\n")
    tmp.replace(folder / STATE)
