"""The batch CLI's cluster options (`--engine ray ...`); plain argparse, no Ray."""

import argparse
from dataclasses import dataclass

ENGINES = ("local", "ray")
REQUIRABLE_DEVICES = ("cuda",)


@dataclass(frozen=True)
class ClusterOptions:
    """How a `--engine ray` run is spread over the cluster."""

    source: str  # SRC as given: a folder or an fsspec URL
    target: str | None  # DST as given; None: the local default sibling folder
    address: str | None = None  # None: start a local Ray instance; "auto" or "ray://host:port": join one
    workers: int = 2  # actors in the pool, each holding one onnxruntime session
    cpus_per_worker: float = 1.0  # Ray CPUs per actor, and its onnxruntime intra-op threads
    gpus_per_worker: float = 0.0
    require_device: str = ""  # "cuda": fail fast where a worker would run on anything else
    batch_size: int = 4  # files per call of a worker: what a killed worker's retry redoes
    rows_in_memory: int | None = None  # past this many files the report is Parquet (None: the default)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster (--engine ray; needs the `cluster` extra)")
    group.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local: this process (default); ray: a Ray cluster, with SRC and DST folders or fsspec URLs "
        "(s3://bucket/prefix, file://...)",
    )  # fmt: skip
    group.add_argument(
        "--address", help="Ray cluster to join: auto (the one this machine belongs to) or ray://host:port "
        "(default: start one on this machine)",
    )  # fmt: skip
    group.add_argument("--workers", type=int, default=2, help="actors, one model session each (default: 2)")
    group.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1.0,
        help="CPUs per actor = its onnxruntime threads (default: 1)",
    )
    group.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per actor (default: 0)")
    group.add_argument(
        "--require-device", choices=REQUIRABLE_DEVICES,
        help="fail instead of running on CPU when a worker's model does not run on this device",
    )  # fmt: skip
    group.add_argument("--batch-size", type=int, default=4, help="files per worker call (default: 4)")
    group.add_argument("--report-rows-in-memory", type=int, help=argparse.SUPPRESS)  # tests: force Parquet


def read_cluster_options(args: argparse.Namespace) -> ClusterOptions:
    return ClusterOptions(
        source=args.input,
        target=args.output,
        address=args.address,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        require_device=args.require_device or "",
        batch_size=args.batch_size,
        rows_in_memory=args.report_rows_in_memory,
    )


def check_cluster_options(options: ClusterOptions) -> str:
    """Return what is wrong with the options ("" when nothing is)."""
    if options.workers < 1:
        return f"--workers must be at least 1, got {options.workers}"
    if options.cpus_per_worker <= 0:
        return f"--cpus-per-worker must be above 0, got {options.cpus_per_worker}"
    if options.gpus_per_worker < 0:
        return f"--gpus-per-worker must be 0 or more, got {options.gpus_per_worker}"
    if options.batch_size < 1:
        return f"--batch-size must be at least 1, got {options.batch_size}"
    if options.require_device and options.gpus_per_worker <= 0:
        return f"--require-device {options.require_device} needs --gpus-per-worker above 0"
    return ""
