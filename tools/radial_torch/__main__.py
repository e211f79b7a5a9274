"""Entry point: `python3 -m radial_torch ...` (run from tools/)."""

import sys

from radial_torch.cli import main

sys.exit(main(sys.argv[1:]))
