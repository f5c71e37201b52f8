"""Repeat a text transform until it stops changing, with a bound on the passes.

Used where one pass can expose work for the next (a repaired character completes a mojibake
sequence; a masked number reveals a booking reference): the normaliser's VADER preparation
(shared/normalise/pipeline.py) and the personal-data masking (shared/privacy.py).
"""

from __future__ import annotations

from collections.abc import Callable


def apply_until_stable(
    step: Callable[[str], str],
    text: str,
    max_passes: int,
    done: Callable[[str], bool] | None = None,
) -> str:
    """`step` applied to `text` until it returns its input unchanged, at most `max_passes` times;
    stops early, before a pass, once `done(text)` is true. Never loops forever."""
    for _ in range(max_passes):
        if done is not None and done(text):
            break
        again = step(text)
        if again == text:
            break
        text = again
    return text
