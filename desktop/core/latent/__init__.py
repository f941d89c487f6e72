"""Latent codes: the numbers (`codes`: sampling, interpolation, projections, the saved JSON), the models
that encode and decode them (`models`) and the latent-space metadata they ship with (`space`)."""
