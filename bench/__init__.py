"""Herald's benchmarks: run ``python -m bench`` from the repository root (see bench/__main__.py).

Importing this package puts ``src`` (the Lambda code root) on sys.path, so ``handlers``, ``delivery``
and ``providers`` import as they do in Lambda. Only os and sys here: cold-start children import it too.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
