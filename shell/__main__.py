"""`python -m pylockenv.shell`: the `pylockenv` command."""

from __future__ import annotations

import sys

from .launcher import main

sys.exit(main())
