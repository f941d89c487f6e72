"""Latent codes: the numbers (`codes`: sampling, interpolation, projections, the saved JSON), the models
that encode and decode them (`models`). The latent-space metadata they ship with is part of a model's
metadata: `desktop.core.models.latent_space`."""
