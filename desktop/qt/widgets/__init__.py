"""Reusable widgets that only show and emit: the compare view and its toolbar, sliders, tables, the scatter
plot, the model picker, and float image <-> QImage."""
