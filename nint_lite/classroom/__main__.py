"""Command line: `python -m nint_lite.classroom SRC_DIR DST_DIR` writes the student copies.

Used by `make student` (python -m nint_lite.classroom notebooks notebooks/student).
"""
import sys

from . import generate

if len(sys.argv) != 3:
    sys.exit("usage: python -m nint_lite.classroom SRC_DIR DST_DIR")
try:
    written = generate(*sys.argv[1:])
except FileNotFoundError as e:
    sys.exit(f"error: {e}")
for p in written:
    print(f"wrote {p}")
