"""Work off the UI thread, reported through signals: inference (latest request wins), batch, file load and
save, and a one-off background call."""
