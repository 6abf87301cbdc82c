"""A dict that keeps at most `limit` keys, forgetting the least recently set first.

What a long-running process remembers about input it does not control (events a fake
platform saw, sandbox platforms it built) must stay within a bound however much input comes.
"""

from __future__ import annotations

import collections
from typing import TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class LruDict(collections.OrderedDict[_K, _V]):
    """Setting a key makes it the newest; past `limit` keys (None: no limit) the oldest go.

    Only item assignment counts as a use: a reader that wants a key kept calls
    `move_to_end(key)`.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: _K, value: _V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if self.limit is not None:
            while len(self) > self.limit:
                self.popitem(last=False)
