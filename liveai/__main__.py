"""``python -m liveai`` runs the CLI."""

from liveai.cli import main

raise SystemExit(main())
