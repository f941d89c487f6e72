"""Numbers and tables of `benchmarks.bench`: timing statistics, the cases a model is measured at, and the
markdown table. No onnxruntime: unit-tested on its own."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

APP_SIZES = (28, 128, 512, 2048)  # image sides the app runs fully convolutional models at
SMOKE_SIZES = (28, 64)
TILED_FROM = 1024  # sides from this up run through `run_tiled` with the app's tiles; smaller ones in one call
BATCH = 256  # fixed-size models: images per call for throughput
SMOKE_BATCH = 8


@dataclass(frozen=True)
class Case:
    """One measured call: `batch` inputs of `height` x `width` (decoders: `batch` latent vectors)."""

    label: str
    batch: int
    height: int = 0  # 0 for decoders, whose input is a latent vector
    width: int = 0
    tiled: bool = False  # through the app's tiling (`apply_model`), not one session call


def time_calls(
    call: Callable[[], object],
    *,
    warmup: int,
    repeats: int,
    min_repeats: int = 3,
    budget_s: float = 5.0,
    clock: Callable[[], float] | None = None,
) -> list[float]:
    """Run `call` `warmup` times untimed, then time it up to `repeats` times; stop early, after at least
    `min_repeats`, once the timed calls took `budget_s`. Return the seconds of each timed call."""
    import time

    clock = clock or time.perf_counter
    for _ in range(warmup):
        call()
    times: list[float] = []
    while len(times) < repeats:
        start = clock()
        call()
        times.append(clock() - start)
        if len(times) >= min_repeats and sum(times) >= budget_s:
            break
    return times


def plan_cases(
    task: str,
    input_size: tuple[int, int] | None,
    multiple: int,
    *,
    smoke: bool = False,
    sizes: Sequence[int] = (),
) -> list[Case]:
    """Return the cases the app uses for a model: fixed-size models at their size, one image and a batch;
    decoders one latent vector (a slider move) and a batch; fully convolutional ones at the app's sizes
    (rounded up to their size multiple; or at `sizes`), the largest through the app's tiling."""
    batch = SMOKE_BATCH if smoke else BATCH
    if task in ("vae-decoder", "decoder"):
        return [Case("z x1", 1), Case(f"z x{batch}", batch)]
    if input_size is not None:
        height, width = input_size
        return [
            Case(f"1x{height}x{width}", 1, height, width),
            Case(f"{batch}x{height}x{width}", batch, height, width),
        ]
    cases = []
    for side in sizes or (SMOKE_SIZES if smoke else APP_SIZES):
        side = -(-side // multiple) * multiple
        tiled = side >= TILED_FROM
        cases.append(Case(f"{side}x{side}" + (" tiled" if tiled else ""), 1, side, side, tiled))
    return cases


def format_number(value: float | None, digits: int = 3) -> str:
    """Return `value` with `digits` significant digits (no exponent below 1e6), or "-" for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


TABLE_COLUMNS = (
    "model", "provider", "session ms", "case", "median ms", "p90 ms", "ms / item", "MP/s", "peak RSS MiB",
    "model call ms", "torch ms", "ort speed-up", "train img/s",
)  # fmt: skip


def format_table(models: Sequence[dict]) -> str:
    """Return the markdown table of benchmark results: a row per (model, case); per-model figures on the
    model's first row only."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for model in models:
        if model.get("error"):
            lines.append(f"| {model['name']} | error: {model['error']} |" + " |" * (len(TABLE_COLUMNS) - 2))
            continue
        for i, case in enumerate(model["cases"]):
            first = i == 0
            memory = f"{model['rss_peak_mib']:.0f} (+{model['rss_peak_mib'] - model['rss_base_mib']:.0f})"
            cells = [
                model["name"] if first else "",
                model["provider"] if first else "",
                format_number(model["session_ms"]) if first else "",
                case["case"],
                format_number(case["median_ms"]),
                format_number(case["p90_ms"]),
                format_number(case["per_item_ms"]),
                format_number(case["mpix_per_s"]),
                memory if first else "",
                format_number(case.get("model_median_ms")),
                format_number(case.get("torch_median_ms")),
                format_number(case.get("torch_ratio"), 2) + ("x" if case.get("torch_ratio") else ""),
                format_number(model.get("train_images_per_s")) if first else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
