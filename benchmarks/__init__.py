"""Benchmarks that span both halves: `bench` times the shipped ONNX models the way the app runs them (and,
with `--compare-torch`, runs `bench_torch` in a subprocess for PyTorch eager on the same input). Not part of
the installed app: run them from the repository (`python -m benchmarks.bench`)."""
