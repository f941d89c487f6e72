"""`python -m desktop` starts the GUI (also the frozen bundle's entry script); see `desktop.launcher`."""

import multiprocessing

# In a frozen bundle the shape probe's child process (`desktop.core.models.probe`) starts this executable
# again: `freeze_support` runs the child's work there and exits, before any of the app starts. A no-op
# otherwise.
multiprocessing.freeze_support()

from desktop.launcher import main  # noqa: E402  (after freeze_support, which must come first)

raise SystemExit(main())
