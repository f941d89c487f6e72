"""A tiny train -> export -> onnxruntime parity run, on real Fashion-MNIST images where Debian's files exist.

Without `/usr/share/datasets/fashion-mnist` the tests write synthetic images in the same IDX format instead
(see `data_dir`), so they run offline anywhere; `test_data_source_is_reported` says which one was used.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training.__main__ import main
from training.config import RECIPES, override_config
from training.data import DEBIAN_DIR, RAW_FILES, Splits, prepare_root
from training.export import ParityError, check_parity
from training.models import build_model
from training.train import fit

CONTRACT_KEYS = {
    "task", "name", "title", "description", "channels", "input_size", "size_multiple", "scale",
    "value_range", "noise", "latent_dim", "dataset", "labels", "metrics", "train_config", "version",
}  # fmt: skip
LIMIT = 300  # images per split


@pytest.fixture(scope="module")
def run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    args = ["--limit", str(LIMIT), "--max-epochs", "3", "--out", str(out), "--data-dir", str(data_dir)]
    assert main(["train", "fashion-dae-mlp", *args, "--set", "batch_size=64"]) == 0
    (run,) = (out / "fashion-dae-mlp").iterdir()
    return run


@pytest.fixture(scope="module")
def onnx_path(run_dir: Path, data_dir: Path) -> Path:
    path = run_dir / "fashion_dae_mlp.onnx"
    assert main(["export", str(run_dir), "--out", str(path), "--data-dir", str(data_dir)]) == 0
    return path


def load_trained_model(run_dir: Path) -> torch.nn.Module:
    ckpt = torch.load(run_dir / "best.pt", weights_only=True)
    model = build_model(override_config(RECIPES["fashion-dae-mlp"], {"batch_size": 64}))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def test_data_source_is_reported_and_offline(data_dir: Path) -> None:
    synthetic = not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").exists()
    print(f"training tests use {'synthetic images' if synthetic else 'Debian fashion-mnist files'}")
    root, download = prepare_root(data_dir)
    assert root == data_dir and not download
    assert all((data_dir / "FashionMNIST" / "raw" / name).exists() for name in RAW_FILES)


def test_run_folder(run_dir: Path) -> None:
    for name in ("best.pt", "metrics.json", "loss.png", "samples.png", "latent_pairs.png"):
        assert (run_dir / name).stat().st_size > 0, name
    ckpt = torch.load(run_dir / "best.pt", weights_only=True)
    assert ckpt["config"]["recipe"] == "fashion-dae-mlp"
    assert ckpt["config"]["limit"] == LIMIT and ckpt["config"]["batch_size"] == 64
    assert 1 <= ckpt["epoch"] <= 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["best_epoch"] == ckpt["epoch"]
    assert metrics["test_images"] == LIMIT and metrics["sigma"] == 0.2
    for key in ("mae", "psnr", "ssim", "wall_time_s", "images_per_s"):
        assert np.isfinite(metrics[key]) and metrics[key] > 0, key


def test_onnx_follows_the_contract(onnx_path: Path, run_dir: Path) -> None:
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    assert not list(onnx_path.parent.glob("*.data"))  # one self-contained file
    meta = {p.key: p.value for p in model.metadata_props}
    assert set(meta) >= CONTRACT_KEYS
    assert (meta["task"], meta["name"], meta["channels"], meta["input_size"]) == (
        "denoise",
        "fashion_dae_mlp",
        "1",
        "28x28",
    )
    assert (meta["size_multiple"], meta["scale"], meta["latent_dim"], meta["dataset"]) == (
        "1",
        "1",
        "8",
        "fashion-mnist",
    )
    assert json.loads(meta["value_range"]) == [0, 1]
    assert json.loads(meta["noise"]) == {"kind": "gaussian", "sigma": 0.2, "clip": True}
    assert json.loads(meta["labels"])[0] == "T-shirt/top" and len(json.loads(meta["labels"])) == 10
    assert json.loads(meta["metrics"]) == json.loads((run_dir / "metrics.json").read_text())
    assert json.loads(meta["train_config"])["limit"] == LIMIT

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["output", "latent"]
    assert all(i.type == "tensor(float)" for i in session.get_inputs())
    for n in (1, 7):  # dynamic batch axis
        output, latent = session.run(None, {"image": np.random.rand(n, 1, 28, 28).astype(np.float32)})
        assert output.shape == (n, 1, 28, 28) and latent.shape == (n, 8)
        assert output.dtype == np.float32 and output.min() >= 0 and output.max() <= 1


def test_parity_check_catches_a_perturbed_model(onnx_path: Path, run_dir: Path, tmp_path: Path) -> None:
    model = load_trained_model(run_dir)
    images = (torch.rand(16, 1, 28, 28),)
    diffs = check_parity(model, onnx_path, images)
    assert set(diffs) == {"output", "latent"} and max(diffs.values()) <= 1e-5

    proto = onnx.load(str(onnx_path))
    weight = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))  # the 128x784 decoder weight
    array = onnx.numpy_helper.to_array(weight) + 1e-3
    weight.CopyFrom(onnx.numpy_helper.from_array(array, weight.name))
    bad = tmp_path / "perturbed.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ParityError, match="output"):
        check_parity(model, bad, images)

    with torch.no_grad():  # and the other way round: PyTorch weights that drift from the file
        next(model.parameters()).add_(1e-3)
    with pytest.raises(ParityError, match="latent"):
        check_parity(model, onnx_path, images)


def test_evaluate_matches_training_metrics(onnx_path: Path, run_dir: Path, data_dir: Path) -> None:
    from training.evaluate import evaluate_models

    table = evaluate_models([onnx_path], data_dir=data_dir, limit=LIMIT, bm3d_images=0)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:-1]
        for line in table.splitlines()
        if line.startswith("| ")
    }
    mae = float(rows["fashion_dae_mlp"][1])
    assert mae == pytest.approx(metrics["mae"], abs=1e-5)
    assert float(rows["noisy input"][1]) == pytest.approx(metrics["noisy"]["mae"], abs=1e-5)


def test_evaluate_measures_each_upscaler_at_its_own_scale(data_dir: Path, tmp_path: Path) -> None:
    """A x4 model beside a x2 one gets its own table from test images shrunk by 4 (it crashed the x2 table's
    measure: a 4x output against the 2x-sized truth)."""
    from onnx_builders import build_conv_model, rewrite_metadata

    from training.evaluate import evaluate_models

    paths = [
        rewrite_metadata(
            build_conv_model(tmp_path / f"up{scale}.onnx", task="upscale", channels=1, scale=scale),
            dataset="fashion-mnist",
        )
        for scale in (2, 4)
    ]
    table = evaluate_models(paths, data_dir=data_dir, limit=20, bm3d_images=0, real=False)
    x2 = table.split("### x2 upscaling, fashion-mnist")[1].split("###")[0]
    x4 = table.split("### x4 upscaling, fashion-mnist")[1].split("###")[0]
    assert "| up2 |" in x2 and "| up4 |" not in x2
    assert "| up4 |" in x4 and "| up2 |" not in x4 and "| bicubic |" in x4


def test_evaluate_writes_the_results_page_with_its_command(
    onnx_path: Path, data_dir: Path, tmp_path: Path
) -> None:
    page = tmp_path / "results.md"
    args = [str(onnx_path), "--data-dir", str(data_dir), "--limit", str(LIMIT), "--bm3d-images", "0"]
    assert main(["evaluate", *args, "--no-real", "--out", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Measured results\n")
    # the page says how to regenerate it: the very command, its options included
    assert f"`python -m training evaluate {' '.join(args)} --no-real --out {page}`" in text
    assert "| fashion_dae_mlp |" in text and "logical cores" in text


def test_init_starts_from_the_given_run(run_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    args = ["--limit", "64", "--max-epochs", "1", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    sets = ["--set", "batch_size=64", "--set", "lr=0"]  # Adam with lr 0 leaves the weights as they started
    assert main(["train", "fashion-dae-mlp", *args, *sets, "--init", str(run_dir)]) == 0
    (second,) = (tmp_path / "fashion-dae-mlp").iterdir()
    before = torch.load(run_dir / "best.pt", weights_only=True)
    after = torch.load(second / "best.pt", weights_only=True)
    assert all(torch.equal(before["model"][k], after["model"][k]) for k in before["model"])
    assert after["init"] == str(run_dir / "best.pt")
    assert json.loads((second / "metrics.json").read_text())["init"] == after["init"]


def test_init_from_an_exported_onnx_file_takes_its_weights(
    run_dir: Path, onnx_path: Path, data_dir: Path, tmp_path: Path
) -> None:
    """A shipped model can be trained further when its run folder is gone: the ONNX initializers carry the
    parameter names (the file also holds constants of its own, which are left out)."""
    args = ["--limit", "64", "--max-epochs", "1", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    sets = ["--set", "batch_size=64", "--set", "lr=0"]
    assert main(["train", "fashion-dae-mlp", *args, *sets, "--init", str(onnx_path)]) == 0
    (second,) = (tmp_path / "fashion-dae-mlp").iterdir()
    before = torch.load(run_dir / "best.pt", weights_only=True)["model"]
    after = torch.load(second / "best.pt", weights_only=True)
    assert set(after["model"]) == set(before)
    assert all(torch.equal(before[k], after["model"][k]) for k in before)
    assert after["init"] == str(onnx_path)


def test_init_refuses_a_file_of_another_architecture(onnx_path: Path) -> None:
    from training.train import load_initial_weights

    model = build_model(RECIPES["fashion-dae-conv"])
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(load_initial_weights(onnx_path, model))


def test_early_stopping_stops_after_patience_and_keeps_the_best() -> None:
    cfg = override_config(
        RECIPES["fashion-dae-mlp"], {"max_epochs": 50, "patience": 2, "min_delta": 10.0, "batch_size": 32}
    )
    x = torch.rand(64, 1, 28, 28)
    y = torch.zeros(64, dtype=torch.long)
    model = build_model(cfg)
    result = fit(model, cfg, Splits(x, y, x[:32], y[:32], x[:32], y[:32]), report=lambda *a: None)
    assert result["epochs"] == 3  # epoch 1 beats +inf; epochs 2 and 3 cannot beat it by 10
    best = int(np.argmin(result["val"])) + 1
    assert result["best_epoch"] == best


KIND_RECIPES = {  # one recipe per training kind, shrunk to seconds (the shipped models cover the defaults)
    "fashion-dae-conv": ["widths=8,16", "blocks=1", "loss=log-l1", "channels_last=true", "augment=dihedral"],
    "fashion-sr-x2": ["width=8", "depth=2"],
    "fashion-sr-x2 residual": ["arch=sr-res", "width=8", "depth=1", "negative_slope=0.1"],  # photo_sr_x2's
    "fashion-vae": ["widths=8,16", "upsample=nearest"],
}


@pytest.fixture(scope="module", params=sorted(KIND_RECIPES))
def kind_export(
    request: pytest.FixtureRequest, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple:
    """A tiny train -> export (with its parity check) of one recipe per kind -> recipe, run, metadata."""
    recipe = request.param.split()[0]
    out = tmp_path_factory.mktemp(recipe)
    sets = [*KIND_RECIPES[request.param], "batch_size=32", "time_budget_s=0"]
    args = ["--limit", "128", "--max-epochs", "2", "--out", str(out), "--data-dir", str(data_dir)]
    assert main(["train", recipe, *args, *(arg for s in sets for arg in ("--set", s))]) == 0
    (run,) = (out / recipe).iterdir()
    name = RECIPES[recipe].name + ("_encoder" if recipe.endswith("vae") else "")
    assert main(["export", str(run), "--out", str(run / f"{name}.onnx"), "--data-dir", str(data_dir)]) == 0
    metas = {p.stem: {m.key: m.value for m in onnx.load(str(p)).metadata_props} for p in run.glob("*.onnx")}
    return recipe, run, metas


def test_each_kind_exports_by_the_contract(kind_export: tuple) -> None:
    recipe, run, metas = kind_export
    metrics = json.loads((run / "metrics.json").read_text())
    for meta in metas.values():
        assert set(meta) >= CONTRACT_KEYS and json.loads(meta["metrics"]) == metrics
    if recipe == "fashion-dae-conv":
        meta = metas["fashion_dae_conv"]
        # two levels at full resolution: height and width multiples of 2
        assert (meta["input_size"], meta["size_multiple"], meta["task"]) == ("any", "2", "denoise")
        assert meta["symmetry"] == "dihedral"  # trained on every flip and quarter turn
        assert json.loads(meta["noise"]) == {
            "kind": "gaussian",
            "sigma_min": 0.0,
            "sigma_max": 0.5,
            "clip": True,
        }
        assert set(metrics["by_sigma"]) >= {"0.1", "0.2", "0.4"}
        session = ort.InferenceSession(str(run / "fashion_dae_conv.onnx"), providers=["CPUExecutionProvider"])
        out = session.run(
            None,
            {"image": np.random.rand(2, 1, 20, 36).astype(np.float32), "sigma": np.ones(2, np.float32) * 0.3},
        )
        assert out[0].shape == (2, 1, 20, 36)
    elif recipe == "fashion-sr-x2":
        meta = metas["fashion_sr_x2"]
        assert "symmetry" not in meta  # horizontal flips only
        assert (meta["input_size"], meta["scale"], meta["task"]) == ("any", "2", "upscale")
        session = ort.InferenceSession(str(run / "fashion_sr_x2.onnx"), providers=["CPUExecutionProvider"])
        for size in (14, 28):
            out = session.run(None, {"image": np.random.rand(3, 1, size, size).astype(np.float32)})[0]
            assert out.shape == (3, 1, 2 * size, 2 * size)
    else:
        enc, dec = metas["fashion_vae_encoder"], metas["fashion_vae_decoder"]
        assert (enc["task"], enc["pair"], dec["task"], dec["pair"]) == (
            "vae-encoder", "fashion_vae_decoder", "vae-decoder", "fashion_vae_encoder",
        )  # fmt: skip
        assert dec["input_size"] == "28x28" and dec["latent_dim"] == "16"
        for meta in (enc, dec):
            stats, pca = json.loads(meta["latent_stats"]), json.loads(meta["latent_pca"])
            assert len(stats["mean"]) == len(stats["std"]) == 16
            components = np.array(pca["components"])
            assert components.shape == (16, 16) and np.allclose(
                np.linalg.norm(components, axis=1), 1, atol=1e-4
            )
            means = json.loads(meta["class_means"])
            assert len(means["labels"]) == len(means["means"]) == 10
        for name in ("loss.png", "samples.png", "sample_grid.png", "latent_map.png"):
            assert (run / name).stat().st_size > 0


def test_widen_writes_a_checkpoint_that_init_takes(tmp_path: Path) -> None:
    import dataclasses

    cfg = override_config(RECIPES["fashion-dae-conv"], {"widths": (8, 16), "blocks": 1})
    model = build_model(cfg).eval()
    source = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "config": dataclasses.asdict(cfg)}, source)
    out = tmp_path / "wide" / "init.pt"
    assert main(["widen", str(source), "--width", "12", "--out", str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert tuple(ckpt["config"]["widths"]) == (12, 16) and ckpt["init"] == str(source)
    wide = build_model(override_config(cfg, {"widths": (12, 16)})).eval()
    wide.load_state_dict(ckpt["model"])
    x, sigma = torch.rand(3, 1, 28, 28), torch.full((3,), 0.2)
    with torch.no_grad():
        assert torch.allclose(wide(x, sigma), model(x, sigma), atol=1e-2)
    with pytest.raises(SystemExit, match="cond-unet"):
        mlp = RECIPES["fashion-dae-mlp"]
        torch.save({"model": build_model(mlp).state_dict(), "config": dataclasses.asdict(mlp)}, source)
        main(["widen", str(source), "--width", "12", "--out", str(out)])


@pytest.mark.parametrize(
    ("done", "expected"), [(0.0, 0.0), (0.05, 0.497), (0.1, 0.976), (0.5, 0.5), (1.0, 0.0)]
)
def test_lr_rises_over_the_warmup_then_follows_the_cosine(done: float, expected: float) -> None:
    from training.train import set_lr

    cfg = override_config(RECIPES["photo-denoise"], {"lr": "1.0", "warmup": "0.1", "time_budget_s": "100"})
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    set_lr(optimizer, cfg, done)
    cosine = 0.5 * (1 + np.cos(np.pi * done))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, abs=1e-3)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cosine * min(done / 0.1, 1.0))
