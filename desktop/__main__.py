"""`python -m desktop` starts the GUI."""

from desktop.qt.app import main

raise SystemExit(main())
