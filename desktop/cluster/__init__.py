"""Batch jobs on a Ray cluster (`autoencoder-studio-batch ... --engine ray`), folders or fsspec URLs in and
out. Ray and fsspec are the `cluster` extra: only `engine` imports Ray, and only when a run starts."""
