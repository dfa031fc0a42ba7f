"""`python -m pianograd ...` = the `pianograd` command."""
import sys

from .cli import main

sys.exit(main())
