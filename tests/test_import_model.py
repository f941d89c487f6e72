"""`python -m training import` (training/import_model.py): randomly initialised small instances of spandrel's
architectures, saved as state dicts (.pth and .safetensors), imported into the ONNX contract and run through
onnxruntime against spandrel's own PyTorch call; pickles that would run code refused unexecuted; an imported
model through the batch CLI and in the model list with its licence. No downloads."""

import hashlib
import importlib
import json
import os
import pickle
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")
spandrel = pytest.importorskip("spandrel")
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from desktop.batch_cli import EXIT_OK  # noqa: E402
from desktop.batch_cli import main as batch_main  # noqa: E402
from desktop.core.models.info import ModelContractError, TensorSpec, parse_model_info  # noqa: E402
from desktop.core.models.registry import read_model_file, scan_models  # noqa: E402
from training.__main__ import main as training_main  # noqa: E402
from training.import_model import (  # noqa: E402
    MODELS_DIR_ENV,
    ModelImportError,
    import_model,
    integer_window_reverse,
    load_state_dict,
)

ATOL = 1e-4


def make(module: str, cls: str, **kwargs: object) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        with warnings.catch_warnings():  # spandrel's code's (SwinIR: torch.meshgrid's indexing)
            warnings.simplefilter("ignore")
            return getattr(importlib.import_module(f"spandrel.architectures.{module}"), cls)(**kwargs)

    return build


# id -> (network builder, file suffix, spandrel's architecture name, scale, channels, takes sigma)
ARCHITECTURES = {
    "compact": (
        make("Compact.__arch.SRVGG", "SRVGGNetCompact", num_feat=8, num_conv=2, upscale=2),
        ".pth", "RealESRGAN Compact", 2, 3, False,
    ),
    "span": (
        make("SPAN", "SPAN", num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2),
        ".safetensors", "SPAN", 2, 3, False,
    ),
    "safmn": (make("SAFMN", "SAFMN", dim=8, n_blocks=1, upscaling_factor=2), ".pth", "SAFMN", 2, 3, False),
    "esrgan": (make("ESRGAN", "ESRGAN", num_filters=8, num_blocks=1, scale=2), ".pt", "ESRGAN", 2, 3, False),
    "drunet": (
        make("DRUNet", "DRUNet", in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2),
        ".safetensors", "DRUNet", 1, 3, True,
    ),
    # FBCNN's quality predictor is fixed at 512 channels: 28 M parameters, the largest here
    "fbcnn": (make("FBCNN", "FBCNN", nc=[8, 16, 32, 512], nb=2), ".ckpt", "FBCNN", 1, 3, False),
    "fdncnn": (
        make("DnCNN", "DnCNN", in_nc=2, out_nc=1, nc=8, nb=8, act_mode="R", mode="FDnCNN"),
        ".pth", "FDnCNN", 1, 1, True,
    ),
    "swinir": (
        make(
            "SwinIR.__arch.SwinIR", "SwinIR", img_size=32, window_size=8, embed_dim=12, depths=[2, 2],
            num_heads=[2, 2], mlp_ratio=2.0, upscale=2, upsampler="pixelshuffledirect",
        ),
        ".pth", "SwinIR", 2, 3, False,
    ),
}  # fmt: skip
# FBCNN's 512-channel layers grow activations under 0.05 until float32 rounding in onnxruntime (1.9e-4 with
# torch 2.14) passes the parity tolerance, which is meant for trained weights' sizes
PERTURBATION = {"fbcnn": 0.01}
# The others take 4-15 s each on this 2-core machine when idle (torch.export), SwinIR 95 s, so are slow
FAST = ("compact",)


def save_state(network: torch.nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"params_ema": state}, path)  # wrapped, as BasicSR saves them
    return path


def build_source(arch: str, folder: Path) -> tuple[Path, torch.nn.Module]:
    builder, suffix = ARCHITECTURES[arch][:2]
    torch.manual_seed(0)
    network = builder()
    with torch.no_grad():  # random weights, larger than the initialisers' so every path shows in the output
        for p in network.parameters():
            p.add_(PERTURBATION.get(arch, 0.05) * torch.randn_like(p))
        if arch == "fdncnn":  # the noise map's path through 8 narrow layers faded below what the test can see
            network.model[0].weight[:, 1].mul_(20)
    return save_state(network, folder / f"{arch}_model{suffix}"), network


# A line the converter logged, and the files in the models folder when it came.
Step = tuple[str, list[str]]


@pytest.fixture(scope="module")
def compact_steps() -> list[Step]:
    """What `compact_import` logged, line by line."""
    return []


@pytest.fixture(scope="module")
def compact_import(tmp_path_factory: pytest.TempPathFactory, compact_steps: list[Step]) -> tuple[Path, Path]:
    """The Compact x2 model imported as `compact_x2` (licence MIT): (its .onnx, the source .pth)."""
    folder = tmp_path_factory.mktemp("import_compact")
    source, _ = build_source("compact", folder)
    models = folder / "models"

    def log(line: str) -> None:
        compact_steps.append((line, sorted(p.name for p in models.iterdir()) if models.is_dir() else []))

    target = import_model(source, models, name="compact_x2", licence="MIT", log=log)
    return target, source


def run_onnx(path: Path, image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"image": image}
    if sigma is not None:
        feed["sigma"] = np.full(image.shape[0], sigma, np.float32)
    return session.run(["output"], feed)[0]


def check_import(arch: str, target: Path, source: Path) -> None:
    """The file follows the contract, says what it is, and matches spandrel's own PyTorch call."""
    _, _, architecture, scale, channels, takes_sigma = ARCHITECTURES[arch]
    info = read_model_file(target)  # the app's parser: the contract holds
    assert (info.task, info.scale, info.channels) == ("upscale" if scale > 1 else "denoise", scale, channels)
    assert info.input_size is None and info.takes_sigma == takes_sigma
    assert (info.architecture, info.licence, info.imported_from) == (architecture, "MIT", source.name)
    assert info.dataset == "imported" and dict(info.metrics) == {} and dict(info.train_config) == {}
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(target), load_external_data=False).metadata_props}
    assert metadata["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    # spandrel's own call (its padding, its fixed 15/255 noise map), from the saved file, not our wrapper
    descriptor = spandrel.ModelLoader().load_from_state_dict(load_state_dict(source)).eval()
    side = max(16, info.size_multiple * 2)
    rng = np.random.default_rng(1)
    for height, width in ((side, side + info.size_multiple), (side + 2 * info.size_multiple, side)):
        image = rng.random((1, channels, height, width), dtype=np.float32)
        expected = descriptor(torch.from_numpy(image)).numpy()
        got = run_onnx(target, image, 15 / 255 if takes_sigma else None)
        assert got.shape == (1, channels, height * scale, width * scale)
        assert np.abs(got - expected).max() < ATOL
        assert got.std() > 1e-3  # not a constant output
    if takes_sigma:  # the app's sigma reaches the noise map
        image = rng.random((1, channels, side, side), dtype=np.float32)
        assert np.abs(run_onnx(target, image, 0.0) - run_onnx(target, image, 0.15)).max() > 1e-3
        noise = json.loads(metadata["noise"])
        assert noise["kind"] == "gaussian" and 0.15 < noise["sigma_max"] <= 0.3


def test_compact_imports_and_matches_pytorch(compact_import: tuple[Path, Path]) -> None:
    check_import("compact", *compact_import)


@pytest.mark.slow
@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a not in FAST])
def test_each_architecture_imports_and_matches_pytorch(arch: str, tmp_path: Path) -> None:
    source, _ = build_source(arch, tmp_path)
    target = import_model(source, tmp_path / "models", licence="MIT", log=lambda _: None)
    assert target == tmp_path / "models" / f"{source.stem}.onnx"
    check_import(arch, target, source)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temporary file left


def test_each_step_is_logged_when_it_is_done(
    compact_import: tuple[Path, Path], compact_steps: list[Step]
) -> None:
    target, source = compact_import
    lines = [line for line, _ in compact_steps]
    size_kb = f"{source.stat().st_size / 1e3:.1f} kB"
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    parameters = sum(t.numel() for t in load_state_dict(source).values())  # Compact has no buffers
    expected = [
        f"reading {source} ({size_kb})",
        f"loaded 11 tensors as weights only; sha256 {sha256}",
        f"detected RealESRGAN Compact (8nf, 2nc): x2, 3 channels, {parameters:,} parameters, size multiple 1",
        "exporting ONNX with dynamic batch, height and width",
        "exported with torch.export (dynamo) in ",
        "parity with PyTorch at 1x2 (batches of 2 and 1): max abs difference ",
        "parity with PyTorch at 8x9 ",
        "parity with PyTorch at 10x8 ",
        'metadata written: task upscale, scale 2, channels 3, size_multiple 1, noise {"kind": "none"}, '
        f"licence MIT, architecture RealESRGAN Compact, imported_from {source.name}",
        f"{target}: RealESRGAN Compact upscale x2, 3 channels, licence MIT; exported with torch.export",
    ]
    assert len(lines) == len(expected)
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), line
    differences = [float(re.search(r"max abs difference (\S+) ", line)[1]) for line in lines[5:8]]
    assert all(0 <= d < ATOL for d in differences)
    assert lines[-1].endswith(f"max abs {max(differences):.1e}")
    # Each line came at its step: nothing written before the export, only the temporary file while it is
    # checked, the model under its name at the end.
    files = {line.split(" ")[0]: names for line, names in compact_steps[:-1]}
    temporary = [f".compact_x2.{os.getpid()}.importing"]
    assert files["reading"] == files["exporting"] == []
    assert files["exported"] == files["parity"] == files["metadata"] == temporary
    assert compact_steps[-1][1] == [target.name]


def test_the_command_line_prints_each_step_flushed_and_how_far_it_got(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file spandrel does not know: the lines of the steps before its refusal, each flushed when printed
    (the Import dialog shows them as they come; a block-buffered pipe would hold them to the end)."""
    source = save_state(torch.nn.Conv2d(3, 3, 3), tmp_path / "unknown.pth")
    flushed: list[str] = []
    real_print = print

    def recording_print(*args: object, flush: bool = False, **kwargs: object) -> None:
        real_print(*args, flush=flush, **kwargs)  # type: ignore[call-overload]
        if flush:
            flushed.append(" ".join(map(str, args)))

    monkeypatch.setattr("builtins.print", recording_print)
    with pytest.raises(SystemExit, match=r"error: unknown\.pth: an architecture spandrel .* does not know"):
        training_main(["import", str(source), "--out", str(tmp_path / "models")])
    printed = capsys.readouterr().out.splitlines()
    assert printed == flushed
    assert printed[0] == f"reading {source} ({source.stat().st_size / 1e3:.1f} kB)"
    assert printed[1].startswith("loaded 2 tensors as weights only; sha256 ")
    assert len(printed) == 2 and not (tmp_path / "models").exists()


@pytest.mark.slow
def test_the_torchscript_exporter_pads_to_the_smallest_side_in_the_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where torch.export fails, the TorchScript exporter traces the network, and gives the sizes as 0-dim
    tensors: the padding up to the network's smallest side (RealCUGAN x2: 32) must stay in the graph, not
    be refused (torch.sym_max takes no tensor: every such architecture was refused) nor fixed at the trace's
    size. torch.export is made to fail on a network it can trace (RealCUGAN took it 333 s), so that the
    fallback runs on a known network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("torch.export cannot trace this network")

    monkeypatch.setattr("training.import_model.export_onnx", refuse)
    torch.manual_seed(0)
    network = make("RealCUGAN.__arch.upcunet_v3", "UpCunet2x", in_channels=3, out_channels=3)()
    with torch.no_grad():
        for p in network.parameters():
            p.add_(0.05 * torch.randn_like(p))
    source = save_state(network, tmp_path / "realcugan_x2.pth")
    lines: list[str] = []
    target = import_model(source, tmp_path / "models", licence="MIT", log=lines.append)
    assert any(line.startswith("exported with TorchScript") for line in lines), lines
    assert any(line.startswith("parity with PyTorch at 1x2 ") for line in lines)  # padded to 32x32 inside
    descriptor = spandrel.ModelLoader().load_from_state_dict(load_state_dict(source)).eval()
    assert descriptor.size_requirements.minimum == 32
    rng = np.random.default_rng(3)
    for height, width in ((32, 37), (45, 32)):  # sizes it takes as they are: spandrel's own call, unpadded
        image = rng.random((1, 3, height, width), dtype=np.float32)
        expected = descriptor(torch.from_numpy(image)).numpy()
        got = run_onnx(target, image)
        assert got.shape == (1, 3, 2 * height, 2 * width)
        assert np.abs(got - expected).max() < ATOL and got.std() > 1e-3
    assert run_onnx(target, rng.random((1, 3, 5, 9), dtype=np.float32)).shape == (1, 3, 10, 18)


def test_window_attention_is_traced_with_an_integer_window_reverse() -> None:
    """SwinIR's own window_reverse finds the batch with float arithmetic on the sizes, which gave an ONNX
    right at the export's batch only: while exporting, the same function in integer arithmetic stands in."""
    network = ARCHITECTURES["swinir"][0]()
    arch = sys.modules[type(network).__module__]
    own = arch.window_reverse
    with integer_window_reverse(network):
        swapped = arch.window_reverse
    assert swapped is not own and arch.window_reverse is own
    for batch, height, width in ((1, 16, 24), (2, 8, 8), (3, 24, 16)):
        windows = torch.rand(batch * (height // 8) * (width // 8), 8, 8, 5)
        assert torch.equal(swapped(windows, 8, height, width), own(windows, 8, height, width))
    compact = ARCHITECTURES["compact"][0]()  # no window attention: nothing swapped
    with integer_window_reverse(compact):
        assert arch.window_reverse is own


def test_the_batch_cli_runs_an_imported_model(compact_import: tuple[Path, Path], tmp_path: Path) -> None:
    target, source = compact_import
    photos, out = tmp_path / "in", tmp_path / "out"
    photos.mkdir()
    pixels = np.random.default_rng(2).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(photos / "a.png")
    args = [str(photos), str(out), "--task", "upscale", "--model", "compact_x2"]
    assert batch_main([*args, "--models-dir", str(target.parent), "--device", "cpu"]) == EXIT_OK
    result = np.asarray(Image.open(out / "a_upscale_compact_x2.png"))
    assert result.shape == (24, 40, 3)
    expected = run_onnx(target, pixels.transpose(2, 0, 1)[None].astype(np.float32) / 255)[0]
    assert np.abs(result.astype(np.float32) / 255 - expected.transpose(1, 2, 0)).max() <= 1 / 255 + 1e-6
    # Who may use what it made: the report names the model's licence and source once, with its file ...
    origin = {"licence": "MIT", "architecture": "RealESRGAN Compact", "imported_from": source.name}
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    source_sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    assert report["parameters"]["model_file"].items() >= {**origin, "source_sha256": source_sha256}.items()
    assert "licence" not in report["rows"][0]["parameters"]
    # ... and so does the saved file's provenance
    with Image.open(out / "a_upscale_compact_x2.png") as saved:
        assert json.loads(saved.text["Processing"]).items() >= origin.items()
        assert "licence=MIT" in saved.text["Description"]


def test_the_model_list_shows_the_licence_and_source(compact_import: tuple[Path, Path]) -> None:
    target, source = compact_import
    entry = scan_models([target.parent]).find_model("compact_x2")
    assert entry is not None and entry.path == target
    assert entry.info.licence == "MIT" and entry.info.imported_from == source.name
    assert entry.info.architecture == "RealESRGAN Compact"


def test_the_licence_keys_are_optional_and_bounded() -> None:
    metadata = {
        "task": "denoise", "name": "m", "title": "M", "description": "", "channels": "3", "input_size": "any",
        "size_multiple": "1", "scale": "1", "value_range": "[0, 1]", "noise": '{"kind": "none"}',
        "latent_dim": "0", "dataset": "x", "metrics": "{}", "train_config": "{}", "version": "1",
    }  # fmt: skip
    tensors = ([TensorSpec("image", ("N", 3, "H", "W"))], [TensorSpec("output", ("N", 3, "H", "W"))])
    assert parse_model_info(metadata, *tensors).licence == ""
    assert parse_model_info(metadata | {"licence": " MIT "}, *tensors).licence == "MIT"
    with pytest.raises(ModelContractError, match="'licence' is 101 characters long"):
        parse_model_info(metadata | {"licence": "x" * 101}, *tensors)


class Payload:
    """Unpickling this runs `exec`, which writes the marker file: the code a hostile .pth would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"with open({str(self.marker)!r}, 'w') as f: f.write('ran')",)


@pytest.mark.parametrize("form", ["torch-zip", "raw-pickle"])
def test_a_pickle_with_a_code_payload_is_refused_unexecuted(form: str, tmp_path: Path) -> None:
    marker, source = tmp_path / "payload_ran", tmp_path / "hostile.pth"
    state = {"conv.weight": torch.zeros(1), "evil": Payload(marker)}
    if form == "torch-zip":
        torch.save(state, source)
    else:
        source.write_bytes(pickle.dumps(state))
    named = r"\((builtins\.)?exec\)" if form == "torch-zip" else "objects"  # raw: an opcode it does not take
    refusal = rf"needs .*{named} beyond tensors to load, which could run code: refused unread"
    with pytest.raises(ModelImportError, match=refusal) as refused:
        import_model(source, tmp_path / "models", licence="MIT")
    assert "\n" not in str(refused.value)
    assert not marker.exists()
    assert not (tmp_path / "models").exists()
    # The payload is live: an unrestricted load runs it (this test's control).
    if form == "torch-zip":
        torch.load(source, weights_only=False)
    else:
        pickle.loads(source.read_bytes())
    assert marker.read_text() == "ran"


def test_files_that_are_not_plain_weights_are_refused(tmp_path: Path) -> None:
    with warnings.catch_warnings():  # torch.jit.script is deprecated: files made with it are still about
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 3, 3)), str(tmp_path / "scripted.pt"))
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    (tmp_path / "broken.safetensors").write_bytes(b"not safetensors")
    (tmp_path / "model.onnx").write_bytes(b"")
    cases = {
        "scripted.pt": "TorchScript archive",
        "list.pth": "holds a list, not a state dict",
        "broken.safetensors": "not a readable safetensors file",
        "model.onnx": "not a PyTorch model file",
    }
    for name, message in cases.items():
        with pytest.raises(ModelImportError, match=message):
            import_model(tmp_path / name, tmp_path / "models")


def test_what_the_app_cannot_run_is_refused_with_the_reason(tmp_path: Path) -> None:
    save_state(torch.nn.Conv2d(3, 3, 3), tmp_path / "unknown.pth")
    grey_to_rgb = make("Compact.__arch.SRVGG", "SRVGGNetCompact", num_in_ch=1, num_feat=8, num_conv=1)()
    save_state(grey_to_rgb, tmp_path / "grey_to_rgb.safetensors")
    cases = {
        "unknown.pth": "an architecture spandrel .* does not know .*spandrel-extra-arches",
        "grey_to_rgb.safetensors": "takes 1 and gives 3 channels",
    }
    for name, message in cases.items():
        with pytest.raises(ModelImportError, match=message):
            import_model(tmp_path / name, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_the_command_line_and_its_output_folder(
    compact_import: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, source = compact_import
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    with pytest.raises(SystemExit, match="error: no models folder: pass --out DIR"):
        training_main(["import", str(source)])
    existing = compact_import[0]
    monkeypatch.setenv(MODELS_DIR_ENV, str(existing.parent))  # the default folder: the app's first extra one
    with pytest.raises(
        SystemExit, match=f"{re.escape(str(existing))} exists: pass another --name, or --force"
    ):
        training_main(["import", str(source), "--name", "compact_x2"])
    with pytest.raises(SystemExit, match=re.escape("--name '../x'")):
        training_main(["import", str(source), "--out", str(tmp_path), "--name", "../x"])
    with pytest.raises(SystemExit, match="SPDX"):
        training_main(["import", str(source), "--out", str(tmp_path), "--licence", "MIT; rm -rf"])
    assert list(tmp_path.iterdir()) == []
