"""`python -m pianograd.data ...`."""
import sys

from .cli import main

sys.exit(main())
