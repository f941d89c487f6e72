"""Each mode driven through the window with tiny stand-in models (pytest-qt): what the GUI shows equals
the core's own computation for the same inputs."""

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from pytestqt.qtbot import QtBot

from desktop.core.images.depth import quantize
from desktop.core.images.files import load_image
from desktop.core.images.fitting import fit_to_model
from desktop.core.images.metrics import measure_image
from desktop.core.images.noise import add_gaussian_noise, estimate_noise_sigma
from desktop.core.inference.session import SessionCache
from desktop.core.jobs.denoise import DenoiseSettings, run_denoise_job
from desktop.core.jobs.latent_map import DecodedPoint, EncodedAtlas
from desktop.core.jobs.upscale import upscale_image
from desktop.core.latent.codes import load_latent
from desktop.core.latent.models import decode_codes, encode_images, find_atlas_path, load_atlas
from desktop.qt.app_settings import AppSettings
from desktop.qt.pages import latent_map_page
from desktop.qt.widgets.metrics_table import EMPTY, format_metrics
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 15_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 96x72 RGB image with structure (for any-size models)."""
    y, x = np.mgrid[0:72, 0:96] / 96
    pixels = np.stack([0.5 + 0.4 * np.sin(9 * x), 0.5 + 0.4 * np.cos(7 * y), x * y], axis=2)
    path = tmp_path_factory.mktemp("photos") / "photo.png"
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(path)
    return path


@pytest.fixture
def window(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, latent_models_dir: Path
) -> Iterator[MainWindow]:
    window = show_window(qtbot, tmp_path, [tiny_models_dir, latent_models_dir])
    yield window
    window.close()


def show_window(qtbot: QtBot, tmp_path: Path, model_dirs: list[Path]) -> MainWindow:
    """A main window on these model folders, with its settings in `tmp_path`, shown."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    AppSettings(settings).denoise_add_noise = True  # as if ticked by hand: these photos get synthetic noise
    window = MainWindow(settings, model_dirs=model_dirs, device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_image(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS):
        window.open_paths([path])


def test_denoise_any_size_model_with_auto_strength(
    qtbot: QtBot, window: MainWindow, photo: Path, cache: SessionCache, tiny_models_dir: Path
) -> None:
    page = window.denoise_page
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, window, photo)
    assert page.picker.current.info.channels == 3  # a colour photo gets an RGB model
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.picker.select("conv_gray_sigma")  # picked by hand for this photo: it runs, on its luma
    assert page.strength_group.isVisibleTo(page)
    assert "would come out grey" in page.picker.note
    result = blocker.args[0]
    clean = fit_to_model(load_image(photo), channels=1, input_size=None).pixels  # luma, whole image
    noisy = add_gaussian_noise(clean, 0.2, 0)
    assert result.model_sigma == pytest.approx(estimate_noise_sigma(noisy))  # auto: estimated
    model_path = tiny_models_dir / "conv_gray_sigma.onnx"
    expected = run_denoise_job(
        lambda device: cache.get(model_path, device), "cpu", clean, DenoiseSettings(sigma=0.2, seed=0)
    )
    np.testing.assert_allclose(result.denoised, expected.denoised, atol=1e-6)
    assert page.metrics_table.read_row(1) == format_metrics(expected.denoised_metrics)
    assert "estimated" in page.strength_label.text()
    assert page.compare.view.image("Denoised").size().toTuple() == (96, 72)

    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.clean is None):
        page.add_noise_check.setChecked(False)  # denoise as is: no reference, no metrics
    assert page.metrics_table.read_row(0) == (EMPTY, EMPTY, EMPTY)
    assert "no metrics" in page.metrics_note.text()
    assert page.compare.view.layer_names() == ["Input", "Denoised"]
    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.model_sigma == 0.3
    ):
        page.auto_check.setChecked(False)
        page.strength_slider.set_value(0.3)


def test_denoise_shows_tiles_as_they_finish_starting_at_the_view_centre(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    page = window.denoise_page
    page.picker.select("conv_gray_sigma")
    page.set_context(dataclasses.replace(page.context, tile_size=64))
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (640, 960), np.uint8)).save(path)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, window, path)
    page.compare.view.set_zoom(4.0, None)
    page.compare.view.pan_by(-1200, -800)  # centre from (320, 480) to about (520, 780): bottom right
    focus = page.compare.view.focus_point((640, 960))
    assert focus is not None and 440 < focus[0] < 640 and 660 < focus[1] < 960
    previews: list[list] = []
    page.worker.partial.connect(lambda _, piece: isinstance(piece, list) and previews.append(piece))
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.seed_spin.setValue(1)
    qtbot.waitUntil(lambda: len(previews) > 0, timeout=TIMEOUT_MS)
    names, images = zip(*previews[0], strict=True)
    assert names == ("Original", "Noisy", "Denoised") and images[2].size().toTuple() == (960, 640)
    preview = np.asarray(images[2].convertToFormat(images[2].Format.Format_Grayscale8).constBits()).reshape(
        640, -1
    )[:, :960]
    final = np.round(blocker.args[0].denoised[..., 0] * 255)
    noisy = np.round(blocker.args[0].noisy[..., 0] * 255)
    # the first preview holds the tile at the view's centre, denoised, and the far (first in row order)
    # corner still noisy
    row, column = int(focus[0]), int(focus[1])
    assert np.abs(preview[row, column].astype(float) - final[row, column]) <= 1
    assert np.abs(preview[:20, :20].astype(float) - noisy[:20, :20]).max() <= 1
    assert np.abs(final[:20, :20] - noisy[:20, :20]).max() > 10


def test_upscale_with_the_downscale_check(
    qtbot: QtBot, window: MainWindow, photo: Path, cache: SessionCache, tiny_models_dir: Path
) -> None:
    window.show_mode("upscale")
    page = window.upscale_page
    assert [page.factor_combo.itemData(i) for i in range(page.factor_combo.count())] == [2, 4]
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        open_image(qtbot, window, photo)
    assert blocker.args[0].upscaled.shape == (144, 192, 3)
    assert page.metrics_table.read_row(0) == (EMPTY, EMPTY, EMPTY)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.check_box.setChecked(True)
    result = blocker.args[0]
    pixels = load_image(photo).pixels
    opener = lambda device: cache.get(tiny_models_dir / "up2_rgb.onnx", device)  # noqa: E731
    expected = upscale_image(opener, "cpu", pixels, factor=2, check=True)
    # the page holds both enlargements in the saved file's 8 bits, the float ones quantised to the bit, and
    # measures those
    model, bicubic = quantize(expected.upscaled, "uint8"), quantize(expected.bicubic, "uint8")
    np.testing.assert_array_equal(result.upscaled, model)
    np.testing.assert_array_equal(result.bicubic, bicubic)
    assert page.metrics_table.read_row(0) == format_metrics(measure_image(expected.original, bicubic))
    assert page.metrics_table.read_row(1) == format_metrics(measure_image(expected.original, model))
    assert page.compare.view.layer_names() == ["Original", "Downscaled", "Bicubic", "Model x2"]
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.check_box.setChecked(False)
        page.factor_combo.setCurrentIndex(1)
    assert blocker.args[0].upscaled.shape == (288, 384, 3) and blocker.args[0].passes == 2


def test_upscale_shows_the_model_tiles_over_bicubic_as_they_finish(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.show_mode("upscale")
    page = window.upscale_page
    page.set_context(dataclasses.replace(page.context, tile_size=64))
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)).save(path)
    previews: list[list] = []

    def keep_preview(_request: int, piece: object) -> None:
        """A copy of each preview as it is sent (in the worker): the result pane shows the output being
        written, which fills in after."""
        if isinstance(piece, list):
            previews.append([(name, image.copy()) for name, image in piece])

    page.worker.partial.connect(keep_preview, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        open_image(qtbot, window, path)
    qtbot.waitUntil(lambda: len(previews) > 0, timeout=TIMEOUT_MS)
    names, images = zip(*previews[0], strict=True)
    assert names == ("Input", "Bicubic", "Model x2") and images[2].size().toTuple() == (640, 480)
    image = images[2].convertToFormat(images[2].Format.Format_RGB888)
    preview = np.asarray(image.constBits()).reshape(480, -1)[:, : 640 * 3].reshape(480, 640, 3)
    result = blocker.args[0]
    final, bicubic = (a.astype(float) for a in (result.upscaled, result.bicubic))  # 8-bit samples
    # the first preview has the tile at the centre (where a fitted view is centred) from the model, and the
    # far corner still bicubic, which the model changes there
    assert np.abs(preview[230:250, 310:330].astype(float) - final[230:250, 310:330]).max() <= 1
    assert np.abs(preview[:10, :10].astype(float) - bicubic[:10, :10]).max() <= 1
    assert np.abs(final[:10, :10] - bicubic[:10, :10]).max() > 10


def test_generate_sliders_encode_and_latent_files(
    qtbot: QtBot,
    window: MainWindow,
    sample_images: list[Path],
    cache: SessionCache,
    latent_models_dir: Path,
    tmp_path: Path,
) -> None:
    window.show_mode("generate")
    page = window.generate_page
    page.picker.select("tiny_vae_decoder")
    decoder = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu")
    assert len(page.sliders.raw_sliders) == 8 and page.encode_button.isEnabled()
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.sliders.raw_sliders[2].set_value(1.0)  # a slider change decodes
    code = blocker.args[0].code
    assert code[2] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(blocker.args[0].image, decode_codes(decoder, code[None])[0], atol=1e-6)

    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.input is not None
    ):
        open_image(qtbot, window, sample_images[1])  # opened while on Generate: encoded into the sliders
    encoder = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu")
    mu = encode_images(encoder, load_image(sample_images[1]).pixels[None])[0]
    np.testing.assert_allclose(page.code.code, mu, atol=1e-5)
    shown = [slider.value for slider in page.sliders.raw_sliders]
    np.testing.assert_allclose(shown, np.clip(mu, -1.4, 1.6), atol=0.02)  # slider range: 0.1 +- 3 * 0.5
    assert page.compare.view.layer_names() == ["Input", "Decoded"]

    page.save_latent(tmp_path / "z.json")
    assert load_latent(tmp_path / "z.json")[0] == "tiny_vae_decoder"
    page.store("A")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        page.reset()
    np.testing.assert_allclose(page.code.code, 0.0)
    page.store("B")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        page.mix_slider.set_value(0.25)
    np.testing.assert_allclose(page.code.code, 0.75 * mu, atol=1e-5)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.load_latent(tmp_path / "z.json")  # round trip: the saved code comes back
    np.testing.assert_allclose(blocker.args[0].code, mu, atol=1e-6)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.grid_button.click()
    assert blocker.args[0].grid_seed == page.seed_spin.value() and blocker.args[0].image.shape == (
        118,
        118,
        1,
    )


def test_generate_large_latent_opens_on_principal_directions(qtbot: QtBot, window: MainWindow) -> None:
    window.show_mode("generate")
    page = window.generate_page
    page.picker.select("tiny_cans_vae_decoder")
    assert page.sliders.tabText(0).startswith("Principal directions (16)")
    direction = np.asarray(page.picker.current.info.latent.components[0], np.float32)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.sliders.direction_sliders[0].set_value(1.2)
    centred = blocker.args[0].code - page.picker.current.info.latent.mean_array(24)  # stats mean: 0.1
    assert float(centred @ direction) == pytest.approx(1.2, abs=0.05)


def test_latent_map_encodes_hovers_and_decodes(
    qtbot: QtBot, window: MainWindow, cache: SessionCache, latent_models_dir: Path
) -> None:
    page = window.latent_map_page
    page.picker.select("tiny_vae_encoder")
    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: isinstance(r, EncodedAtlas)
    ) as blocker:
        window.show_mode("latent_map")
    encoded = blocker.args[0]
    atlas_path = find_atlas_path("fashion-mnist")
    assert atlas_path is not None
    encoder = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu")
    np.testing.assert_allclose(
        encoded.codes, encode_images(encoder, load_atlas(atlas_path).images), atol=1e-5
    )

    scatter = page.scatter
    where = scatter.map_to_widget(*map(float, page.projection.project(encoded.codes[17:18])[0]))
    with qtbot.waitSignal(scatter.point_hovered, timeout=TIMEOUT_MS) as hovered:
        scatter.mouseMoveEvent(mouse_event(QMouseEvent.Type.MouseMove, where))
    index = hovered.args[0]
    assert index >= 0 and np.allclose(
        page.projection.project(encoded.codes[index : index + 1]),
        page.projection.project(encoded.codes[17:18]),
        atol=0.5,
    )
    assert page.hover_label.text().startswith(f"Test image #{index}: ")

    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: isinstance(r, DecodedPoint)
    ) as blocker:
        scatter.mousePressEvent(mouse_event(QMouseEvent.Type.MouseButtonPress, where))
    point = blocker.args[0]
    expected_code = page.projection.lift(point.point, encoded.codes)
    np.testing.assert_allclose(point.code, expected_code, atol=1e-6)
    decoder = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu")
    np.testing.assert_allclose(point.image, decode_codes(decoder, expected_code[None])[0], atol=1e-6)
    assert page.preview.layer_names() == ["Hovered", "Decoded"]

    page.projection_combo.setCurrentIndex(1)  # two raw dimensions: nearest code, those two replaced
    page.y_spin.setValue(5)
    points = page.scatter._screen
    assert points.shape == (2000, 2)
    np.testing.assert_array_equal(page.projection.project(encoded.codes), encoded.codes[:, [0, 4]])


def hold_atlas_encoding(monkeypatch: pytest.MonkeyPatch, failure: str = "") -> tuple[threading.Event, ...]:
    """Make the map's atlas job wait after it starts (`started`) until `release`, then encode (or raise
    RuntimeError(failure) when given)."""
    started, release = threading.Event(), threading.Event()
    encode = latent_map_page.encode_atlas

    def wait_then_encode(*args: object) -> EncodedAtlas:
        started.set()
        release.wait(TIMEOUT_MS / 1000)
        if failure:
            raise RuntimeError(failure)
        return encode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(latent_map_page, "encode_atlas", wait_then_encode)
    return started, release


def test_latent_map_after_esc_says_so_and_encodes_when_shown_again(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.latent_map_page
    page.picker.select("tiny_vae_encoder")
    started, release = hold_atlas_encoding(monkeypatch)
    window.show_mode("latent_map")
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    assert page.scatter.placeholder.startswith("Encoding the fashion-mnist atlas")
    assert not page.x_spin.isEnabled()  # the axes are principal directions: no dimensions to pick
    with qtbot.waitSignal(page.busy_changed, timeout=TIMEOUT_MS):
        window.cancel_job()  # Esc
        release.set()
    assert "cancelled (Esc)" in page.scatter.placeholder  # no longer "Encoding the ... atlas…"
    assert not page.scatter.placeholder.endswith("\N{HORIZONTAL ELLIPSIS}")
    monkeypatch.undo()
    window.show_mode("generate")
    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: isinstance(r, EncodedAtlas)
    ):
        window.show_mode("latent_map")
    assert page.scatter._screen.shape == (2000, 2)


def test_latent_map_whose_atlas_fails_says_why(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.latent_map_page
    page.picker.select("tiny_vae_encoder")
    _started, release = hold_atlas_encoding(monkeypatch, failure="out of memory")
    release.set()
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS):
        window.show_mode("latent_map")
    assert "failed: out of memory" in page.scatter.placeholder
    assert not page.scatter.placeholder.endswith("\N{HORIZONTAL ELLIPSIS}")


def mouse_event(kind: QMouseEvent.Type, where: QPointF) -> QMouseEvent:
    button = (
        Qt.MouseButton.LeftButton if kind == QMouseEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton
    )
    return QMouseEvent(kind, where, where, button, button, Qt.KeyboardModifier.NoModifier)


@pytest.mark.parametrize(("mode", "model_kind", "passes"), [("denoise", {}, 8), ("upscale", {"scale": 2}, 4)])
def test_self_ensemble_is_offered_only_to_models_trained_on_every_orientation(
    qtbot: QtBot, tmp_path: Path, photo: Path, mode: str, model_kind: dict, passes: int
) -> None:
    from onnx_builders import build_conv_model

    folder = tmp_path / "models"
    folder.mkdir()
    build_conv_model(folder / "any.onnx", task=mode, **model_kind)
    build_conv_model(folder / "dihedral.onnx", task=mode, symmetry="dihedral", **model_kind)
    window = show_window(qtbot, tmp_path, [folder])
    window.show_mode(mode)
    page = window.denoise_page if mode == "denoise" else window.upscale_page
    page.picker.select("dihedral")
    assert page.ensemble_box.isVisibleTo(page)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, window, photo)
    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.ensemble == passes
    ):
        page.ensemble_box.choose(passes)
    assert page.describe_processing()["self_ensemble"] == passes
    assert window.status.model_label.text().endswith(f"self-ensemble x{passes}")

    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.ensemble == 1):
        page.picker.select("any")  # a sleeves-at-the-top kind of model: one pass, and no choice shown
    assert not page.ensemble_box.isVisibleTo(page)
    assert "self_ensemble" not in page.describe_processing()
    window.close()
