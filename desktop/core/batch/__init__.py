"""A folder through one model: the job and its validation (`job`), which files and where each output goes
(`selection`), one file prepared, run and saved (`one_file`), the run over all files (`runner`), the
report (`report`) and the output folder's lock (`folder_lock`).

The run's entry points are importable from the package itself (`from desktop.core.batch import
process_folder`), as they were from the single module this package replaces."""

from desktop.core.batch.runner import (
    BatchStatus,
    FileSelection,
    OutputPlan,
    ReportWriteError,
    build_report,
    describe_job,
    plan_outputs,
    process_folder,
    run_files,
    select_files,
)

__all__ = [
    "BatchStatus",
    "FileSelection",
    "OutputPlan",
    "ReportWriteError",
    "build_report",
    "describe_job",
    "plan_outputs",
    "process_folder",
    "run_files",
    "select_files",
]
