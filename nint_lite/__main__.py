"""python -m nint_lite {fit,compare,bench} …: the command line, in nint_lite/lab/cli.py."""
import sys

from .lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
