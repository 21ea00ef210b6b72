"""Caps on live subscriptions: per user and per process (STEPWISE_MAX_SUBSCRIPTIONS_PER_USER and
_PER_PROCESS). Each live subscription costs the process memory and work at every event; past a
cap the extra subscribe is refused with TOO_MANY_SUBSCRIPTIONS (both protocols carry it as the
operation's error) and the others go on. Counted in this process: a user's subscriptions on
another process count there. A slot is held from the subscribe until the stream ends, whatever
ends it (complete, a closed socket, an error)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from collections.abc import Iterator

from stepwise.models.errors import TooManySubscriptions


class SubscriptionCaps:
    def __init__(self, per_user: int, per_process: int) -> None:
        self.per_user = per_user
        self.per_process = per_process
        self._by_user: Counter[int] = Counter()
        self.total = 0

    def live(self, user_id: int) -> int:
        return self._by_user[user_id]

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        if self.total >= self.per_process:
            raise TooManySubscriptions(f"This server is at its limit of {self.per_process} live subscriptions: "
                                       "try again later, or on another server.")
        if self._by_user[user_id] >= self.per_user:
            raise TooManySubscriptions(f"You have {self.per_user} live subscriptions, the most one user may hold "
                                       "on a server: end one (on any of your connections) first.")
        self._by_user[user_id] += 1
        self.total += 1
        try:
            yield
        finally:
            self.total -= 1
            self._by_user[user_id] -= 1
            if not self._by_user[user_id]:
                del self._by_user[user_id]
