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


# Every rendered clip with a table layout (charuco_calibration has none).
TABLE_CLIPS = [
    "pre_block",
    "post_block",
    "rotated_body",
    "oblique_distorted",
    "stickers",
    "hard_roll",
    "tight_framing",
]

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; ICC(2,1) = 0.29.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]
