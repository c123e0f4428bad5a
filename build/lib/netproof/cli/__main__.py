"""python -m netproof.cli"""

import sys

from netproof.cli import main

sys.exit(main())
