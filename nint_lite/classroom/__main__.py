"""Command line: `python -m nint_lite.classroom SRC_DIR DST_DIR [--only NN]` marks the instructor
notebooks for nbgrader and writes the student copies (and nint_by_hand.py).

Used by `make student` (python -m nint_lite.classroom notebooks notebooks/student); --only 04
does one notebook.
"""
import argparse
import sys

from . import generate

ap = argparse.ArgumentParser(prog="python -m nint_lite.classroom",
                             description="nbgrader metadata on SRC_DIR's notebooks; student copies into DST_DIR")
ap.add_argument("src_dir")
ap.add_argument("dst_dir")
ap.add_argument("--only", help="only the notebooks whose name starts with this, e.g. 04")
args = ap.parse_args()
try:
    written = generate(args.src_dir, args.dst_dir, only=args.only)
except (FileNotFoundError, ValueError) as e:
    sys.exit(f"error: {e}")
for p in written:
    print(f"wrote {p}")
