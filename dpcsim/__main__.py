"""``python -m dpcsim``: the command-line interface."""

from __future__ import annotations

import sys

from dpcsim.cli import main

sys.exit(main())
