"""One naming scheme for roles across all processes: a role id is its lane's name, slugged.

Lane `Socialsekreterare` → `socialsekreterare`, `Språkrör` → `sprakror`, `HLT-mötet` →
`hlt_motet`: lower case, å/ä/ö and other accents folded to ASCII, anything else to `_`.
Tokens may carry either spelling; they are compared by role id.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)  # a completion asks about thirty times, for a handful of names (issue 19's profile)
def role_id(name: str | None) -> str | None:
    """The role id for a lane or role name, or None for an empty one."""
    if not name or not name.strip():
        return None
    folded = unicodedata.normalize("NFKD", name.strip().casefold())
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_") or None
