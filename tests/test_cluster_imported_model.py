"""An imported model (`python -m training import`, issue 34) through `--engine ray`: a Compact x2 `.pth`
converted into a user models folder runs on Ray's workers (its file sent to them through the object store)
as on the local engine, with the same outputs, rows and provenance. Skipped without the cluster extra, or
without torch and spandrel (the train extra) to import the model."""

import hashlib
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from desktop.batch_cli import EXIT_OK, main

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")
pytest.importorskip("ray.data", reason="the cluster extra is not installed")
torch = pytest.importorskip("torch", reason="the train extra is not installed")
pytest.importorskip("spandrel", reason="the train extra is not installed")
from training.import_model import import_model  # noqa: E402

MODEL = "my_compact_x2"  # the name the user gave it


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20)
    try:
        yield
    finally:
        ray.shutdown()


def import_compact(folder: Path) -> Path:
    """A randomly initialised Compact x2 (spandrel's SRVGGNetCompact) saved as a BasicSR `.pth`, imported
    into `folder / "models"` as MODEL, licence MIT."""
    module = importlib.import_module("spandrel.architectures.Compact.__arch.SRVGG")
    torch.manual_seed(0)
    network = module.SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    with torch.no_grad():  # larger than the initialiser's weights, so the output is not near-constant
        for parameter in network.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    source = folder / "realesr_compact_x2.pth"
    torch.save({"params_ema": network.state_dict()}, source)
    return import_model(source, folder / "models", name=MODEL, licence="MIT", log=lambda _: None)


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def read_report(folder: Path) -> tuple[list[dict], dict]:
    """The report's rows (without their timings, outputs by file name) and its parameters."""
    report = json.loads((folder / "batch_report.json").read_text(encoding="utf-8"))
    rows = [
        {**{k: v for k, v in row.items() if k != "seconds"}, "output_path": Path(row["output_path"]).name}
        for row in report["rows"]
    ]
    return rows, report["parameters"]


def test_an_imported_model_runs_on_ray_as_on_the_local_engine(cluster: None, tmp_path: Path) -> None:
    model_file = import_compact(tmp_path)
    source = tmp_path / "in"
    source.mkdir()
    rng = np.random.default_rng(4)
    photos = {"a.png": rng.integers(0, 256, (9, 13, 3), np.uint8), "b.png": rng.integers(0, 256, (12, 8, 3))}
    for name, pixels in photos.items():
        Image.fromarray(pixels.astype(np.uint8)).save(source / name)
    args = ["--task", "upscale", "--model", MODEL]
    assert run_cli(model_file.parent, source, tmp_path / "local", *args) == EXIT_OK
    on_ray = ["--engine", "ray", "--workers", "1"]
    assert run_cli(model_file.parent, source, tmp_path / "ray", *args, *on_ray) == EXIT_OK

    rows, parameters = read_report(tmp_path / "ray")
    assert (rows, parameters) == read_report(tmp_path / "local")
    assert [(row["path"], row["status"], row["model"]) for row in rows] == [
        ("a.png", "ok", MODEL),
        ("b.png", "ok", MODEL),
    ]
    sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
    source_sha256 = hashlib.sha256((tmp_path / "realesr_compact_x2.pth").read_bytes()).hexdigest()
    described = {
        "name": MODEL, "version": "1.0", "file": model_file.name, "sha256": sha256, "licence": "MIT",
        "architecture": "RealESRGAN Compact", "imported_from": "realesr_compact_x2.pth",
        "source_sha256": source_sha256,
    }  # fmt: skip
    assert parameters["model_file"] == described  # the imported file, by its hash, its licence and source

    session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    for name, pixels in photos.items():
        output = f"{Path(name).stem}_upscale_{MODEL}.png"
        assert (tmp_path / "ray" / output).read_bytes() == (tmp_path / "local" / output).read_bytes()
        with Image.open(tmp_path / "ray" / output) as image:
            result = np.asarray(image.convert("RGB"), np.float32) / 255
            processing = json.loads(image.text["Processing"])
        assert result.shape == (pixels.shape[0] * 2, pixels.shape[1] * 2, 3)
        image_input = pixels.transpose(2, 0, 1)[None].astype(np.float32) / 255
        expected = session.run(["output"], {"image": image_input})[0][0].transpose(1, 2, 0)
        assert np.abs(result - expected).max() <= 1 / 255 + 1e-6  # the imported network, rounded to 8 bits
        assert result.std() > 0.01
        assert (processing["task"], processing["model"]) == ("upscale", MODEL)
