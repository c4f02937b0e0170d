"""Allow `python -m otbot`."""

import sys

from otbot.cli import main

sys.exit(main())
