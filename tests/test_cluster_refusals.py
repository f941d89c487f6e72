"""Issue 37, defect 16: models the Ray workers cannot open (an op of a custom domain; external data that is
missing, or that the workers would not get) ended in "ActorDiedError" after pages of Ray tracebacks. Both
engines now open a named model in this process first (`check_models_open`, one function for both) and
refuse it in one line, exit 2, before any file and before Ray starts. No Ray instance is started here."""

from collections.abc import Callable
from pathlib import Path

import pytest
from onnx_builders import build_custom_op_model, build_external_data_model
from PIL import Image

from desktop.batch_cli import EXIT_OK, EXIT_USAGE, main

BROKEN_MODELS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "custom_op": (build_custom_op_model, "com.example:Blur(-1) is not a registered function/op"),
    "external_missing": (build_external_data_model, "External data path does not exist"),
}


def write_photos(folder: Path) -> Path:
    folder.mkdir()
    for k in range(2):
        Image.new("RGB", (16, 16), (60 * k, 90, 200)).save(folder / f"p{k}.png")
    return folder


@pytest.fixture
def no_ray_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Ray engine must not get as far as starting Ray."""
    engine = pytest.importorskip("desktop.cluster.engine")
    pytest.importorskip("ray", reason="the cluster extra is not installed")

    def refuse(*args: object) -> None:
        raise AssertionError("Ray was started for a model the workers cannot open")

    monkeypatch.setattr(engine, "run_on_ray", refuse)


@pytest.mark.parametrize("engine", ["local", "ray"])
@pytest.mark.parametrize("broken", sorted(BROKEN_MODELS))
def test_a_model_that_cannot_be_opened_is_refused_in_one_line_before_any_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    engine: str,
    broken: str,
) -> None:
    if engine == "ray":
        request.getfixturevalue("no_ray_run")
    build, cause = BROKEN_MODELS[broken]
    models = tmp_path / "models"
    models.mkdir()
    build(models / "broken.onnx")
    photos = write_photos(tmp_path / "in")
    args = [photos, tmp_path / "out", "--model", "broken", "--engine", engine, "--models-dir", models]
    assert main([str(arg) for arg in args]) == EXIT_USAGE
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("autoencoder-studio-batch: error: model broken (") and cause in line
    assert captured.out == ""
    assert not list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


def test_the_ray_engine_refuses_external_data_its_workers_would_not_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_ray_run: None
) -> None:
    """The workers get the .onnx file through Ray's object store, not the data files beside it; the local
    engine runs the same model."""
    models = tmp_path / "models"
    models.mkdir()
    build_external_data_model(models / "split.onnx", keep_data=True)
    photos = write_photos(tmp_path / "in")
    base = [photos, "--model", "split", "--models-dir", models, "--device", "cpu"]
    assert main([str(arg) for arg in [*base, tmp_path / "local"]]) == EXIT_OK
    capsys.readouterr()
    assert main([str(arg) for arg in [*base, tmp_path / "ray", "--engine", "ray"]]) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert "model split keeps its weights in external data (split.data)" in line
