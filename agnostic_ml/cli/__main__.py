"""``python -m agnostic_ml.cli``: the same program as the ``agnostic-ml`` command."""

import sys

from . import main

sys.exit(main())
