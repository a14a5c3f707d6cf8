"""One registry per extension point (label models, filter steps, generators).

A registry maps a name to an object; the config validates names against it, the pipeline
and the studio dispatch through it, and the name is the same string in config, funnel,
manifest and report.
"""

from __future__ import annotations

import difflib
from typing import Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, added with :meth:`register` and looked up with ``[]``.

    >>> steps = Registry("filter step")
    >>> _ = steps.register("confidence", object())
    >>> "confidence" in steps, steps.names()
    (True, ('confidence',))
    >>> steps["confidense"]
    Traceback (most recent call last):
    ...
    KeyError: "unknown filter step 'confidense'; did you mean 'confidence'? (known: confidence)"
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Add ``entry`` under ``name`` and return it; a second entry of one name is refused unless ``replace``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"a {self.kind} named {name!r} is already registered; pass replace=True to replace it")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def suggestion(self, name: object) -> str:
        close = difflib.get_close_matches(str(name), list(self._entries), n=1)
        return f"; did you mean {close[0]!r}?" if close else ""

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise KeyError(f"unknown {self.kind} {name!r}{self.suggestion(name)} (known: {', '.join(self._entries)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def items(self):
        return self._entries.items()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
