"""``python -m flowker``."""

import sys

from flowker.cli import main

sys.exit(main())
