"""training/recipes.py and training/rebuild.py: the lineages are well formed, the shipped files are their last
stages, and `rebuild` replays a tiny two-stage lineage end to end (with an interrupted stage resumed)."""

import json
from dataclasses import asdict
from pathlib import Path

import onnx
import pytest
import torch

import training.train
from training.__main__ import main
from training.config import RECIPES
from training.recipes import LINEAGES, Stage, find_stage, stage_config
from training.resume import LAST

MODELS_DIR = Path(__file__).resolve().parents[1] / "onnx_models"
TINY = {"limit": 64, "max_epochs": 2, "time_budget_s": 0.0, "widths": (8, 16), "blocks": 1, "batch_size": 16}
TINY_LINEAGE = [
    Stage("a", "fashion-dae-conv", "a tiny first stage", overrides=TINY | {"val_limit": 32}),
    Stage(
        "b",
        "fashion-dae-conv",
        "a second stage from the first one's files, with another loss",
        init="a",
        from_files=True,
        overrides=TINY | {"val_limit": 32, "loss": "log-l1", "version": "2.1"},
    ),
]


def read_metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


@pytest.mark.parametrize("name", sorted(LINEAGES))
def test_a_lineage_starts_each_stage_from_an_earlier_one(name: str) -> None:
    stages = LINEAGES[name]
    names = [s.name for s in stages]
    assert len(set(names)) == len(names)
    assert not stages[0].init
    for i, stage in enumerate(stages):
        assert stage.recipe in RECIPES and stage.why
        assert not stage.init or stage.init in names[:i], f"{stage.name} starts from a later stage"
        cfg = stage_config(name, stage)  # only existing fields: a typo fails here
        assert cfg.stage == f"{name}/{stage.name}"
    assert stage_config(name, stages[-1]).name == name  # the lineage ends in the model it is named after


SHIPPED = sorted(p for p in MODELS_DIR.glob("*.onnx") if "train_config" in read_metadata(p))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_model_names_its_stage_and_was_trained_with_its_config(path: Path) -> None:
    meta = read_metadata(path)
    name, _, stage_name = meta["recipe_stage"].partition("/")
    stage = find_stage(name, stage_name)
    assert meta["recipe"] == stage.recipe
    recorded = json.loads(meta["train_config"])
    expected = json.loads(json.dumps(asdict(stage_config(name, stage))))  # tuples as the JSON's lists
    assert {k: v for k, v in recorded.items() if k != "stage"} == {
        k: expected[k] for k in recorded if k != "stage"
    }


def test_rebuild_replays_a_lineage_and_resumes_an_interrupted_stage(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(LINEAGES, "tiny", TINY_LINEAGE)
    args = ["rebuild", "tiny", "--out", str(tmp_path), "--data-dir", str(data_dir), "--threads", "1"]
    folder = tmp_path / "rebuild" / "tiny"

    assert main([*args, "--until", "a"]) == 0
    assert read_metadata(folder / "onnx" / "fashion_dae_conv.onnx")["recipe_stage"] == "tiny/a"
    first = (folder / "a" / "best.pt").stat().st_mtime_ns

    def reporter_interrupting_at_epoch_2(*args) -> object:
        def report(epoch: int, *rest) -> None:
            if epoch == 2:
                raise KeyboardInterrupt

        return report

    with monkeypatch.context() as patch:
        patch.setattr(training.train, "CHECKPOINT_EVERY_S", -1.0)  # last.pt at every epoch boundary
        patch.setattr(training.train, "make_reporter", reporter_interrupting_at_epoch_2)
        assert main(args) == 1  # stage b interrupted in its second epoch
    assert json.loads((folder / "rebuild.json").read_text())["finished"] == ["a"]
    assert torch.load(folder / "b" / LAST, weights_only=True)["loop"]["epoch"] == 1

    capsys.readouterr()
    assert main(args) == 0  # a skipped, b resumed from its epoch 1, then exported
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert json.loads((folder / "rebuild.json").read_text())["finished"] == ["a", "b"]
    assert (folder / "a" / "best.pt").stat().st_mtime_ns == first
    metrics = json.loads((folder / "b" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["init"] == str(folder / "a" / "onnx" / "fashion_dae_conv.onnx")
    meta = read_metadata(folder / "onnx" / "fashion_dae_conv.onnx")
    assert meta["recipe"] == "fashion-dae-conv" and meta["recipe_stage"] == "tiny/b"
    assert meta["version"] == "2.1" and json.loads(meta["train_config"])["loss"] == "log-l1"


def test_a_widening_stage_starts_from_its_init_widened_to_the_same_function(tmp_path: Path) -> None:
    from training.kinds import build_model
    from training.rebuild import starting_point

    small = {"widths": (8, 16), "blocks": 1, "res_blocks": (0, 1), "estimator_width": 8, "estimator_depth": 2}
    narrow_stage = Stage("v1", "photo-denoise-real", "a small real-photo denoiser", overrides=small)
    wide_stage = Stage(
        "v2",
        "photo-denoise-real",
        "wider at full resolution",
        init="v1",
        widen_to=12,
        overrides=small | {"widths": (12, 16)},
    )
    narrow_cfg = stage_config("tiny", narrow_stage)
    narrow = build_model(narrow_cfg).eval()
    (tmp_path / "v1").mkdir()
    torch.save({"model": narrow.state_dict(), "config": asdict(narrow_cfg)}, tmp_path / "v1" / "best.pt")

    init = starting_point(tmp_path, wide_stage, None)
    assert init is not None and init.parent == tmp_path and init.name != "best.pt"
    wide = build_model(stage_config("tiny", wide_stage)).eval()
    wide.load_state_dict(torch.load(init, weights_only=True)["model"])  # the wider stage's shapes
    x = torch.rand(2, 3, 32, 48)
    told = (torch.tensor([0.1, 0.0]), torch.ones(2), torch.tensor([0.0, 30.0]))  # sigma, strength, quality
    with torch.no_grad():
        assert torch.allclose(wide(x, *told)[0], narrow(x, *told)[0], atol=1e-2)
    unwidened = Stage("v3", "photo-denoise-real", "as v1", init="v1")
    assert starting_point(tmp_path, unwidened, None) == tmp_path / "v1"
