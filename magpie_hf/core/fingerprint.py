"""Stable content hashes for checkpoints and sources."""

from __future__ import annotations

import hashlib
import json


def fingerprint(parts: dict) -> str:
    """Stable 16-hex-digit hash of a JSON-able description."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
