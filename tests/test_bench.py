"""`python -m benchmarks.bench`: the smoke run on the shipped models, and its statistics and table helpers."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_stats import (
    Case,
    format_number,
    format_table,
    plan_cases,
    time_calls,
)

REPO = Path(__file__).resolve().parents[1]


def test_smoke_run_measures_every_shipped_model(tmp_path: Path) -> None:
    from desktop.core.models.registry import scan_models
    from desktop.core.paths import find_model_dirs

    names = {entry.info.name for entry in scan_models(find_model_dirs()).models}
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert {row["name"] for row in report["models"]} == names
    for row in report["models"]:
        assert row["provider"] and row["session_ms"] > 0 and row["rss_peak_mib"] > 0
        assert row["cases"]
        for case in row["cases"]:
            assert case["median_ms"] > 0 and case["p90_ms"] >= case["median_ms"] * 0.999
            assert case["per_item_ms"] > 0
            assert case["mpix_per_s"] is None or case["mpix_per_s"] > 0
            # the bare model call, which PyTorch's timing compares with, for the untiled cases
            assert (case["model_median_ms"] is None) == case["tiled"]
            assert case["tiled"] or case["model_median_ms"] > 0
    assert "| model |" in done.stdout and report["machine"]["cores"] >= 1


def test_time_calls_warms_up_and_stops_at_the_budget() -> None:
    calls, ticks = [], iter(float(t) for t in range(100))
    times = time_calls(lambda: calls.append(1), warmup=2, repeats=10, budget_s=2.5, clock=lambda: next(ticks))
    assert times == [1.0, 1.0, 1.0]  # each timed call takes one tick; 3 ticks pass the 2.5 s budget
    assert len(calls) == 5  # 2 warm-up + 3 timed
    quick = time_calls(lambda: None, warmup=0, repeats=4, budget_s=100.0)
    assert len(quick) == 4


def test_plan_cases_follows_what_the_app_runs() -> None:
    assert [c.label for c in plan_cases("vae-decoder", (28, 28), 1)] == ["z x1", "z x256"]
    fixed = plan_cases("denoise", (28, 28), 1)
    assert [(c.batch, c.height) for c in fixed] == [(1, 28), (256, 28)]
    convolutional = plan_cases("denoise", None, 8)
    assert [c.height for c in convolutional] == [32, 128, 512, 2048]  # 28 rounded up to the multiple 8
    assert [c.tiled for c in convolutional] == [False, False, False, True]
    assert [c.height for c in plan_cases("upscale", None, 1, smoke=True)] == [28, 64]
    assert Case("x", 1).height == 0


def test_format_table_has_a_row_per_case() -> None:
    assert format_number(1234.5) == "1234"
    assert format_number(0.012345) == "0.0123"
    assert format_number(None) == "-"
    case = {"case": "1x28x28", "median_ms": 0.5, "p90_ms": 0.6, "per_item_ms": 0.5, "mpix_per_s": 1.5}
    model = {
        "name": "m",
        "provider": "CPU",
        "session_ms": 10.0,
        "rss_base_mib": 80.0,
        "rss_peak_mib": 100.0,
        "cases": [
            case,
            case | {"case": "256x28x28", "model_median_ms": 0.45, "torch_median_ms": 1.0, "torch_ratio": 2.0},
        ],
        "train_images_per_s": 70000.0,
    }
    table = format_table([model, {"name": "bad", "error": "boom"}]).splitlines()
    assert len(table) == 2 + 2 + 1
    assert table[2].startswith("| m | CPU | 10.0 | 1x28x28 | 0.500 |") and "100 (+20)" in table[2]
    assert "| 0.450 | 1.00 | 2.0x |" in table[3] and "| - | - | - |" in table[2]
    assert "error: boom" in table[4]
