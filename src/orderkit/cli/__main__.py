"""`python -m orderkit.cli`: the `orderkit` command line."""

from orderkit.cli import main


raise SystemExit(main())
