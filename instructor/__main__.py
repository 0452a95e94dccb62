"""python -m instructor COMMAND ...: the course's commands (instructor/cli.py), as ./course runs them."""
import sys

from .cli import main

sys.exit(main())
