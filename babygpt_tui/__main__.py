"""`python -m babygpt_tui` (what torchrun's `--module babygpt_tui` runs in each process)."""

import sys

from .cli import main

sys.exit(main())
