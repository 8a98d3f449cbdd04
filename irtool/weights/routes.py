"""Which entry ``irtool restore --auto`` uses for a detected degradation, and what it passed over.

A ``[routes]`` value lists entries in order of preference (a full-size hub model first, the bundled lite model
after it); the entries of ``fallback`` follow every route's own. The first entry that can run here is used (a
bundled file, or a hub file in the local cache with its pinned sha256; spandrel installed for another project's
architecture); ``"keep"`` (copy the image) always can.
``irtool models`` shows each route's choice, the restore report notes a preferred entry that was passed over, and
``irtool download --routes`` fetches the preferred entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from irtool.errors import ChecksumError, DownloadError, WeightsNotFoundError

from .catalog import KEEP_ROUTE, Catalog, WeightsEntry
from .hub import entry_path

__all__ = ["FALLBACK", "RouteChoice", "choose_route", "preferred_downloads", "route_preferences", "why_unusable"]

#: The ``[routes]`` key whose entries serve every type without a route of its own, and follow every route's own.
FALLBACK = "fallback"


@dataclass(frozen=True)
class RouteChoice:
    """A route's entries in order of preference, the one used (an entry name, ``"keep"``, or None when none can
    run), and those before it that cannot run here, with why (``reasons``, one per ``missing`` entry)."""

    kind: str
    preferences: tuple[str, ...]
    used: str | None
    missing: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """What the restore report says when a preferred entry was passed over (None when the first was used)."""
        if not self.missing or self.used is None:
            return None
        used = "copied the image" if self.used == KEEP_ROUTE else f"used {self.used}"
        passed = ", ".join(f"{name} {reason}" for name, reason in zip(self.missing, self.reasons))
        return f"{passed}; {used}"


def route_preferences(catalog: Catalog, kind: str) -> tuple[str, ...]:
    """The entries ``kind`` may go to, most preferred first: its own route's, then the fallback's."""
    own = catalog.routes.get(kind, ())
    fallback = catalog.routes.get(FALLBACK, ()) if kind != FALLBACK else ()
    return tuple(dict.fromkeys((*own, *fallback)))


def why_unusable(entry: WeightsEntry) -> str | None:
    """Why ``entry`` cannot run here now ("not downloaded", "missing", "damaged", "needs spandrel"), or None when it
    can."""
    try:
        entry_path(entry)
    except ChecksumError:  # a file whose bytes are not the ones weights.toml pins: say so, not "missing"
        return "damaged (its sha256 differs from weights.toml)"
    except (WeightsNotFoundError, DownloadError):
        return "missing" if entry.bundled else "not downloaded"
    from irtool.foreign_names import is_foreign, spandrel_installed

    if is_foreign(entry.preset) and not spandrel_installed():
        return "needs spandrel"
    return None


def choose_route(catalog: Catalog, kind: str, *,
                 unusable: Callable[[WeightsEntry], str | None] = why_unusable) -> RouteChoice:
    """The first entry of ``kind``'s preferences that can run (``unusable`` says why one cannot; by default:
    :func:`why_unusable`)."""
    preferences = route_preferences(catalog, kind)
    missing: list[str] = []
    reasons: list[str] = []
    for name in preferences:
        reason = None if name == KEEP_ROUTE else unusable(catalog.get(name))
        if reason is None:
            return RouteChoice(kind, preferences, name, tuple(missing), tuple(reasons))
        missing.append(name)
        reasons.append(reason)
    return RouteChoice(kind, preferences, None, tuple(missing), tuple(reasons))


def preferred_downloads(catalog: Catalog) -> list[WeightsEntry]:
    """Every hub entry the routes name (what ``irtool download --routes`` fetches), in the routes' order."""
    names = [name for kind in catalog.routes for name in catalog.routes[kind] if name != KEEP_ROUTE]
    return [catalog.get(name) for name in dict.fromkeys(names) if not catalog.get(name).bundled]
