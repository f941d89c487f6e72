"""`python -m desktop` starts the GUI (also the frozen bundle's entry script); see `desktop.launcher`."""

from desktop.launcher import main

raise SystemExit(main())
