"""The batch run's steps, each alone: select files -> plan outputs -> run the files -> build the report."""

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from batch_tree import InputTree, build_input_tree

from desktop.core.batch.job import BatchJob, BatchJobError, BatchPlan, validate_job
from desktop.core.batch.report import FileResult
from desktop.core.batch.runner import build_report, plan_outputs, run_files, select_files
from desktop.core.inference.session import SessionCache
from desktop.core.models.registry import scan_models
from desktop.core.progress import Progress


@pytest.fixture
def tree(tmp_path: Path) -> InputTree:
    return build_input_tree(tmp_path / "in")


def make_plan(tree: InputTree, tiny_models_dir: Path, **changes: object) -> BatchPlan:
    job = BatchJob(**{"input_dir": tree.root, "model": "conv_rgb", "glob": "*.png", **changes})  # type: ignore[arg-type]
    return validate_job(job, scan_models([tiny_models_dir]).models)


def test_a_retry_selects_its_files_and_reports_the_gone_ones(tree: InputTree, tiny_models_dir: Path) -> None:
    plan = make_plan(tree, tiny_models_dir)
    everything = select_files(plan)
    assert everything.gone == [] and len(everything.files) > 2
    wanted = [everything.files[0].relative, "vanished.png"]
    retry = select_files(plan, only=wanted)
    assert [f.relative for f in retry.files] == wanted[:1]
    assert [(row.path, row.status, row.reason) for row in retry.gone] == [
        ("vanished.png", "skipped", "no longer in the input folder")
    ]


def test_planning_names_every_output_and_writes_nothing(tree: InputTree, tiny_models_dir: Path) -> None:
    plan = make_plan(tree, tiny_models_dir)
    selection = select_files(plan)
    outputs = plan_outputs(plan, selection)
    assert set(outputs.paths) == {f.relative for f in selection.files}
    assert all(path.parent == plan.output_dir for path in outputs.paths.values())
    assert not plan.output_dir.exists() and outputs.existing == frozenset()
    assert (tree.root / selection.files[0].relative).resolve() in outputs.protected


def test_planning_refuses_a_report_that_would_replace_an_input(
    tree: InputTree, tiny_models_dir: Path
) -> None:
    plan = make_plan(tree, tiny_models_dir)
    selection = select_files(plan)
    target = tree.root / selection.files[0].relative
    with pytest.raises(BatchJobError, match="would overwrite an input file"):
        plan_outputs(dataclasses.replace(plan, report_path=target), selection)


def test_a_cancelled_run_stops_and_the_report_names_the_rest(tree: InputTree, tiny_models_dir: Path) -> None:
    plan = make_plan(tree, tiny_models_dir)
    selection = select_files(plan)
    outputs = plan_outputs(plan, selection)
    plan.output_dir.mkdir()
    progress, cache = Progress(), SessionCache()

    def finished(row: FileResult) -> None:
        progress.cancel()  # after the first row

    rows, cancelled = run_files(
        plan,
        selection.files,
        outputs,
        open_model=lambda device: cache.get(plan.model.path, device),
        progress=progress,
        emit=lambda done, current, fraction: None,
        on_file_finished=finished,
    )
    assert cancelled and len(rows) == 1
    report = build_report(plan, selection, rows, cancelled=True, started=datetime.now(), seconds=1.0)
    assert [row.status for row in report.rows[1:]] == ["cancelled"] * (len(selection.files) - 1)
    assert report.rows[0] == rows[0] and report.cancelled
