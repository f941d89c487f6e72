"""The batch settings form: folders, task and model, parameters; it reads them into a `BatchJob`."""

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.batch.job import (
    BATCH_TASKS,
    DEFAULT_TEMPLATE,
    LABEL_JOINER,
    OUTPUT_FORMATS,
    STEP_SEPARATOR,
    BatchJob,
    BatchJobError,
    choose_output_dir,
    label_task,
    makes,
    takes_ensemble,
)
from desktop.core.inference.ensemble import ENSEMBLE_SIZES
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE
from desktop.core.jobs.upscale import FACTORS, count_passes
from desktop.core.models.choice import ImageShape, rank_models, read_image_shape
from desktop.core.models.info import SIGMA
from desktop.core.models.registry import ModelEntry
from desktop.core.paths import IMAGE_SUFFIXES

CHAIN = ("denoise", "upscale")  # the chain the form offers: denoise, then upscale the denoised image


def replace_jpeg(image: ImageShape) -> ImageShape:
    """The shape of what a chain's first step makes of `image`: no longer a JPEG file."""
    return ImageShape(image.height, image.width, image.channels)


class BatchForm(QWidget):
    """Widgets for every `BatchJob` field; `read_job` reads them."""

    def __init__(self, models: list[ModelEntry], device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._models = models
        self._device = device
        self._image: ImageShape | None = None  # what the model list is ranked for (None: any photo)
        self.input_edit, self.output_edit = QLineEdit(), QLineEdit()
        self.input_edit.setPlaceholderText("Folder of images (or drop a folder on the main window)")
        self.recursive_check = QCheckBox("Include subfolders")
        self.recursive_check.setChecked(True)
        self.glob_edit = QLineEdit()
        self.glob_edit.setPlaceholderText("all images, or e.g. *.png")
        self.allow_inside_check = QCheckBox(
            "Allow output inside the input folder (inputs are never overwritten)"
        )
        self.task_combo, self.model_combo = QComboBox(), QComboBox()
        for task in BATCH_TASKS:
            self.task_combo.addItem(task, task)
        self.task_combo.addItem("denoise, then upscale", STEP_SEPARATOR.join(CHAIN))  # one output per image
        self.then_label = QLabel("Then:")
        self.then_combo = QComboBox()  # a chain's upscaler
        self.scale_combo = QComboBox()
        for factor in FACTORS:
            self.scale_combo.addItem(f"x{factor}", factor)
        self.scale_combo.setToolTip(
            "x4 runs a native x4 model where there is one, else a x2 model twice; the output name says x4"
        )
        self.ensemble_combo = QComboBox()
        for passes in ENSEMBLE_SIZES:
            self.ensemble_combo.addItem("off" if passes == 1 else f"{passes} orientations", passes)
        self.model_label = QLabel()  # what the model takes and makes; its description is the tooltip
        # wrapped in the width the task row gives it: a long line neither widens the dialog nor is cut
        self.model_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.model_label.setWordWrap(True)
        self.auto_sigma_check = QCheckBox("Estimate per image")
        self.auto_sigma_check.setChecked(True)
        self.auto_sigma_check.setToolTip("Noise-conditioned models get each image's estimated noise level")
        self.sigma_spin = _make_double_spin(0.0, 1.0, 0.2)
        self.add_noise_check = QCheckBox("Add synthetic noise first (reports PSNR/SSIM against the input)")
        self.seed_spin = _make_spin(0, 2**31 - 1, 0)
        self.tile_spin = _make_spin(16, 8192, DEFAULT_TILE_SIZE, step=64, suffix=" px")
        self.format_combo = QComboBox()
        self.format_combo.addItems(OUTPUT_FORMATS)
        self.quality_spin = _make_spin(1, 100, 95)
        self.template_edit = QLineEdit(DEFAULT_TEMPLATE)
        self.skip_check = QCheckBox("Skip files whose output exists")
        self._build_layout()
        self.input_edit.textChanged.connect(self._update_output_hint)
        self.task_combo.currentIndexChanged.connect(self._fill_models)
        self.scale_combo.currentIndexChanged.connect(self._fill_models)
        self.model_combo.currentIndexChanged.connect(self._describe_model)
        self.then_combo.currentIndexChanged.connect(self._describe_model)
        self.auto_sigma_check.toggled.connect(self._update_enabled)
        self.add_noise_check.toggled.connect(self._update_enabled)
        self.format_combo.currentIndexChanged.connect(self._update_enabled)
        self._fill_models()

    def set_input_dir(self, folder: Path) -> None:
        self.input_edit.setText(str(folder))
        first = next((p for p in sorted(folder.glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES), None)
        shape = read_image_shape(first) if first is not None else None
        if shape is not None:
            self.set_image_shape(shape)

    def set_image_shape(self, image: ImageShape | None) -> None:
        """Offer the models best first for images like `image` (the open image, or the folder's first),
        choosing the best one."""
        self._image = image
        self._fill_models()

    def read_job(self) -> BatchJob:
        """Return the job the widgets describe; raises BatchJobError when no input folder is given."""
        text = self.input_edit.text().strip()
        if not text:
            raise BatchJobError("choose an input folder")
        output = self.output_edit.text().strip()
        return BatchJob(
            input_dir=Path(text),
            model=STEP_SEPARATOR.join(self._model_names()),
            task=self._task(),
            output_dir=Path(output) if output else None,
            recursive=self.recursive_check.isChecked(),
            glob=self.glob_edit.text().strip() or None,
            name_template=self.template_edit.text().strip(),
            output_format=self.format_combo.currentText(),
            quality=self.quality_spin.value(),
            skip_existing=self.skip_check.isChecked(),
            allow_output_in_input=self.allow_inside_check.isChecked(),
            sigma=None if self.auto_sigma_check.isChecked() else round(self.sigma_spin.value(), 4),
            seed=self.seed_spin.value(),
            add_noise=self.add_noise_check.isChecked(),
            tile_size=self.tile_spin.value(),
            ensemble=int(self.ensemble_combo.currentData() or 1),
            device=self._device,
            scale=self._factor() if "upscale" in self._tasks() else None,
        )

    def _task(self) -> str:
        return str(self.task_combo.currentData() or "")

    def _tasks(self) -> tuple[str, ...]:
        return tuple(self._task().split(STEP_SEPARATOR))

    def _factor(self) -> int:
        return int(self.scale_combo.currentData() or 2)

    def _model_names(self) -> list[str]:
        """The chosen model of every step ("" where a step has none)."""
        combos = [self.model_combo, self.then_combo][: len(self._tasks())]
        return [str(combo.currentData() or "") for combo in combos]

    def _chosen_entries(self) -> list[ModelEntry]:
        names = self._model_names()
        return [e for name in names for e in self._models if e.info.name == name][: len(names)]

    def _build_layout(self) -> None:
        folders = QFormLayout()
        folders.addRow("Input folder:", self._with_browse(self.input_edit, "Choose the input folder"))
        options = QHBoxLayout()
        options.addWidget(self.recursive_check)
        options.addSpacing(16)
        options.addWidget(QLabel("Only files matching:"))
        options.addWidget(self.glob_edit, 1)
        folders.addRow("", options)
        folders.addRow("Output folder:", self._with_browse(self.output_edit, "Choose the output folder"))
        folders.addRow("", self.allow_inside_check)
        model = QFormLayout()
        task_row = QHBoxLayout()
        task_row.addWidget(self.task_combo)
        task_row.addSpacing(16)
        task_row.addWidget(QLabel("Model:"))
        task_row.addWidget(self.model_combo, 1)
        task_row.addWidget(self.then_label)
        task_row.addWidget(self.then_combo, 1)
        model.addRow("Task:", task_row)
        model.addRow("", self.model_label)
        enlarge = QHBoxLayout()
        enlarge.addWidget(self.scale_combo)
        enlarge.addSpacing(16)
        enlarge.addWidget(QLabel("Self-ensemble:"))
        enlarge.addWidget(self.ensemble_combo)
        enlarge.addStretch(1)
        model.addRow("Enlarge:", enlarge)
        noise = QHBoxLayout()
        for widget in (self.auto_sigma_check, self.sigma_spin, self.add_noise_check):
            noise.addWidget(widget)
        noise.addStretch(1)
        noise.addWidget(QLabel("Seed:"))
        noise.addWidget(self.seed_spin)
        output = QHBoxLayout()
        for item in (
            self.format_combo,
            QLabel("Quality:"),
            self.quality_spin,
            QLabel("Tile size:"),
            self.tile_spin,
        ):
            output.addWidget(item)
        output.addStretch(1)
        output.addWidget(self.skip_check)
        model.addRow(f"Noise {SIGMA}:", noise)
        model.addRow("Format:", output)
        model.addRow("Output name:", self.template_edit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Folders", folders), ("Model and parameters", model)):
            box = QGroupBox(title)
            box.setLayout(form)
            layout.addWidget(box)

    def _with_browse(self, edit: QLineEdit, title: str) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._choose_folder(edit, title))
        row.addWidget(button)
        return row

    def _choose_folder(self, edit: QLineEdit, title: str) -> None:
        start = edit.text() or self.input_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)

    @Slot()
    def _fill_models(self) -> None:
        tasks, factor = self._tasks(), self._factor()
        chain = len(tasks) > 1
        # the chain's upscaler enlarges the first step's output: no longer a JPEG file
        later = None if self._image is None else replace_jpeg(self._image)
        for combo, task, image in (
            (self.model_combo, tasks[0], self._image),
            (self.then_combo, CHAIN[-1], later),
        ):
            fitting = [e for e in self._models if e.info.task == task and makes(e, task, factor)]
            combo.blockSignals(True)
            combo.clear()
            for entry in rank_models(fitting, image, factor=factor if task == "upscale" else None):
                combo.addItem(entry.info.title, entry.info.name)  # best first, and chosen
            combo.blockSignals(False)
            combo.setEnabled(combo.count() > 0)
        self.then_label.setVisible(chain)
        self.then_combo.setVisible(chain)
        self.scale_combo.setEnabled("upscale" in tasks)
        self.add_noise_check.setEnabled(tasks == ("denoise",))
        self._describe_model()

    @Slot()
    def _describe_model(self) -> None:
        entries = self._chosen_entries()
        tasks = self._tasks()
        if len(entries) < len(tasks):
            missing = tasks[len(entries)] if entries else tasks[0]
            self.model_label.setText(f"No {missing} models found.")
            self.model_label.setToolTip("")
        else:
            texts = [describe_model_input(entry, self._factor()) for entry in entries]
            # a chain: each model's title and what it makes, on the one line; the full lines in the tooltip
            short = [f"{entry.info.title}: {describe_output(entry, self._factor())}" for entry in entries]
            self.model_label.setText(texts[0] if len(entries) == 1 else "; then ".join(short))
            self.model_label.setToolTip(
                "\n\n".join(
                    f"{text}\n{entry.info.description}" for text, entry in zip(texts, entries, strict=True)
                )
            )
        self._update_ensemble(entries)
        self._update_output_hint()
        self._update_enabled()

    def _update_ensemble(self, entries: list[ModelEntry]) -> None:
        """Offer the self-ensemble where every chosen model was trained on every orientation."""
        symmetric = bool(entries) and all(takes_ensemble(entry, max(ENSEMBLE_SIZES)) for entry in entries)
        if not symmetric:
            self.ensemble_combo.setCurrentIndex(0)
        self.ensemble_combo.setEnabled(symmetric)
        self.ensemble_combo.setToolTip(
            "Average the model over flips and quarter turns: a little better, that many times slower"
            if symmetric
            else "Only for models trained on every flip and quarter turn (e.g. photo_denoise, photo_sr_x2)"
        )

    @Slot()
    def _update_output_hint(self) -> None:
        text = self.input_edit.text().strip()
        names = self._model_names()
        task = label_task(self._tasks(), self._factor() if "upscale" in self._tasks() else 1)
        try:
            hint = (
                f"default: {choose_output_dir(Path(text), task, LABEL_JOINER.join(names))}"
                if text and all(names)
                else "default: beside the input folder"
            )
        except (BatchJobError, OSError, RuntimeError) as error:  # e.g. "/": no sibling folder to offer
            hint = f"no default: {error}"
        self.output_edit.setPlaceholderText(hint)

    @Slot()
    def _update_enabled(self) -> None:
        self.sigma_spin.setEnabled(not self.auto_sigma_check.isChecked())
        self.seed_spin.setEnabled(self.add_noise_check.isChecked() and self.add_noise_check.isEnabled())
        self.quality_spin.setEnabled(self.format_combo.currentText() in ("jpg", "webp"))


def describe_model_input(entry: ModelEntry, factor: int = 2) -> str:
    """Return e.g. "28x28 grayscale input (other images are fitted to it), output x1; trained on ..."; an
    upscaler run more than once for `factor` says so: "output x2, run twice for x4"."""
    info = entry.info
    size = "any-size (tiled)" if info.input_size is None else f"{info.input_size[1]}x{info.input_size[0]}"
    channels = "grayscale" if info.channels == 1 else "RGB"
    fitted = " (other images are fitted to it)" if info.input_size is not None else ""
    sigma = f", takes the noise level {SIGMA}" if info.takes_sigma else ""
    return (
        f"{size} {channels} input{fitted}, {describe_output(entry, factor)}{sigma}; "
        f"trained on {info.noise.describe()} ({info.dataset})"
    )


def describe_output(entry: ModelEntry, factor: int = 2) -> str:
    """Return "output x2", or for an upscaler run more than once for `factor`: "..., run twice for x4"."""
    info = entry.info
    passes = count_passes(info, factor) if info.task == "upscale" and makes(entry, "upscale", factor) else 1
    runs = f", run {'twice' if passes == 2 else f'{passes} times'} for x{factor}" if passes > 1 else ""
    return f"output x{info.scale}{runs}"


def _make_spin(low: int, high: int, value: int, *, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def _make_double_spin(low: float, high: float, value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(2)
    spin.setSingleStep(0.01)
    spin.setValue(value)
    return spin
