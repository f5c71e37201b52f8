"""The champion pointer (`champion.json`): its schema, and how one move rewrites it.

Pure functions and data only; `shared.model_store` reads and writes the pointer in the store.
`history` records every move, newest first, and is never truncated: the version rolled back from
is still named there, and its bundle is still in the store for `rollback --to`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from shared.storage import StorageError

CHAMPION_NAME = "champion.json"
HISTORY_LIMIT = 10  # rollback candidates kept in `previous`; `history` is never truncated


class ChampionChanged(StorageError):
    """A conditional promotion lost: the champion moved after the caller read the pointer."""


class PointerEvent(BaseModel):
    """One move of the pointer: `version` became champion, replacing `replaced`, by `action`."""

    version: str
    action: str  # publish | promote | rollback | repair
    replaced: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    note: str | None = None


class ChampionPointer(BaseModel):
    """Which version serving should use, rollback candidates, every past move, and the ETag."""

    version: str
    previous: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    history: list[PointerEvent] = Field(default_factory=list)  # newest first, never truncated
    etag: str | None = Field(None, exclude=True)


@dataclass(frozen=True)
class PointerState:
    """What champion.json holds now: a pointer, nothing, or bytes that do not parse (`problem`)."""

    pointer: ChampionPointer | None
    etag: str | None
    problem: str | None = None


@dataclass
class RepairResult:
    pointer: ChampionPointer
    changed: bool
    skipped: dict[str, str] = field(default_factory=dict)  # version -> why it cannot serve


def parse_pointer(data: bytes, etag: str) -> PointerState:
    """The pointer in `data`, or the reason it cannot be read (never raises)."""
    try:
        pointer = ChampionPointer.model_validate_json(data)
    except ValidationError as exc:
        return PointerState(None, etag, f"{CHAMPION_NAME} is not valid ({exc.errors()[0]['msg']})")
    return PointerState(pointer.model_copy(update={"etag": etag}), etag)


def next_pointer(
    state: PointerState,
    version: str,
    action: str,
    note: str | None,
    stored_newest_first: Callable[[], list[str]],
) -> ChampionPointer:
    """The pointer after `version` replaces the current champion by `action`.

    `previous` (rollback candidates): after a rollback, what came before the target; otherwise
    the old champion and its candidates; rebuilt from the stored versions (newest first) when the
    pointer was corrupt, or lost and not being created by a first publish.
    """
    current = state.pointer
    if state.problem:
        note = note or f"replaced an invalid {CHAMPION_NAME}"
        candidates = stored_newest_first()
    elif current is None:
        candidates = stored_newest_first() if action != "publish" else []
    elif action == "rollback" and version in current.previous:
        candidates = current.previous[current.previous.index(version) + 1 :]
    else:
        candidates = [current.version, *current.previous]
    previous = [v for v in dict.fromkeys(candidates) if v != version][:HISTORY_LIMIT]
    replaced = current.version if current else None
    event = PointerEvent(version=version, action=action, replaced=replaced, note=note)
    history = [event, *(current.history if current else [])]
    return ChampionPointer(version=version, previous=previous, history=history)


def repair_note(state: PointerState, skipped: dict[str, str]) -> str:
    """What a repair found wrong, for the history: the pointer's problem and skipped versions."""
    found = state.problem or ("no champion.json" if state.pointer is None else "")
    if state.pointer is not None and state.pointer.version in skipped:
        found = f"champion {state.pointer.version} cannot serve"
    cannot = f"; skipped {', '.join(skipped)}" if skipped else ""
    return f"{found}{cannot}"
