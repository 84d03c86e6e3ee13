"""``python -m simve``: the ``simve`` command."""

import sys

from simve.cli import main

sys.exit(main())
