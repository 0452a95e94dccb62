"""python -m instructor COMMAND ...: the course's commands (instructor/commands/cli.py), as ./course runs them."""
import sys

from .commands.cli import main

sys.exit(main())
