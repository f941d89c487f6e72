"""`--engine ray` takes x4 and chains (issues 33 and 35) as `--engine local` does: every step's model travels
to the workers, and the outputs, their names and the rows are the local run's."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model
from PIL import Image

from desktop.batch_cli import EXIT_OK, main

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")
pytest.importorskip("ray.data", reason="the cluster extra is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20)
    try:
        yield
    finally:
        ray.shutdown()


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def read_report(folder: Path) -> tuple[list[dict], dict]:
    report = json.loads((folder / "batch_report.json").read_text(encoding="utf-8"))
    rows = [
        {**{k: v for k, v in row.items() if k != "seconds"}, "output_path": Path(row["output_path"]).name}
        for row in report["rows"]
    ]
    return rows, report["parameters"]


def test_ray_runs_a_chain_at_x4_as_the_local_engine_does(cluster: None, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / "den_rgb.onnx")
    build_conv_model(models / "up2_rgb.onnx", task="upscale", scale=2)
    source = tmp_path / "in"
    source.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (9, 13, 3), dtype=np.uint8)).save(source / name)
    args = ["--task", "denoise,upscale", "--model", "den_rgb,up2_rgb", "--scale", "4"]
    assert run_cli(models, source, tmp_path / "local", *args) == EXIT_OK
    assert run_cli(models, source, tmp_path / "ray", *args, "--engine", "ray", "--workers", "1") == EXIT_OK
    assert read_report(tmp_path / "ray") == read_report(tmp_path / "local")
    rows, _ = read_report(tmp_path / "ray")
    assert rows[0]["output_path"] == "a_denoise+upscale_x4_den_rgb+up2_rgb.png"
    assert [step["model"] for step in rows[0]["parameters"]["steps"]] == ["den_rgb", "up2_rgb"]
    for name in ("a", "b"):
        output = f"{name}_denoise+upscale_x4_den_rgb+up2_rgb.png"
        assert (tmp_path / "ray" / output).read_bytes() == (tmp_path / "local" / output).read_bytes()
    with Image.open(tmp_path / "ray" / "a_denoise+upscale_x4_den_rgb+up2_rgb.png") as image:
        assert image.size == (52, 36)
