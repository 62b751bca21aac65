"""Where the bundled clips live, and the truth that comes with them.

A plain module (not conftest.py) so that test files in any folder can import it by name:
several folders have their own conftest.py, and `from conftest import ...` would pick
whichever was imported first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SESSIONS = FIXTURES / "sessions"


def load_truth(clip: str) -> dict[str, Any]:
    """Ground truth of a rendered clip (truth.json)."""
    return json.loads((SESSIONS / clip / "truth.json").read_text())
