"""python -m netproof: the netproof command."""

import sys

from netproof.cli import main

sys.exit(main())
