"""The how-tos' example modules, importable by their plain names.

`shop_orders`, `livebuy` and `feed_cursors` stand for modules of the reader's
own app, and the pages import them as such. Their directory goes on
`sys.path` here, before the pages' doctests and test modules run; processes
that a contract race spawns inherit it.
"""

import sys
from pathlib import Path


_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
