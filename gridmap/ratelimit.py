"""In-process rate limiting (login guessing, anonymous tip-offs).

Counts are kept per process in memory: with several worker processes each keeps its own
window, so the effective limit is ``workers × limit`` — documented in the README's
threat model. A monotonic clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from gridmap.errors import RateLimited


class SlidingWindow:
    """At most ``limit`` events per key within ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.window_s:
            events.popleft()
        return events

    def blocked(self, key: str) -> float:
        """Seconds until ``key`` may act again (0 when it may now)."""
        with self._lock:
            now = self.clock()
            events = self._trim(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, self.window_s - (now - events[0]))

    def hit(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._events) >= self.max_keys:
                # Forget the stalest keys rather than grow without bound.
                for stale in [k for k, v in self._events.items() if not v or now - v[-1] >= self.window_s]:
                    del self._events[stale]
            self._trim(key, now).append(now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def take(self, key: str, *, zh: str, en: str) -> None:
        """Count one event for ``key`` or raise :class:`RateLimited`."""
        wait = self.blocked(key)
        if wait:
            raise RateLimited(f"{zh}，请 {int(wait) + 1} 秒后再试", f"{en}; retry in {int(wait) + 1} s")
        self.hit(key)


class LoginLimiter:
    """Failed logins counted per username and per client address."""

    def __init__(self, max_failures: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.by_user = SlidingWindow(max_failures, window_s, clock)
        # A client may try several usernames; allow it a few times the per-user budget.
        self.by_client = SlidingWindow(max_failures * 4, window_s, clock)

    def check(self, username: str, client: str) -> None:
        wait = max(self.by_user.blocked(username.lower()), self.by_client.blocked(client))
        if wait:
            raise RateLimited(
                f"登录失败次数过多，请 {int(wait) + 1} 秒后再试",
                f"too many failed logins; retry in {int(wait) + 1} s",
            )

    def failed(self, username: str, client: str) -> None:
        self.by_user.hit(username.lower())
        self.by_client.hit(client)

    def succeeded(self, username: str, client: str) -> None:
        self.by_user.reset(username.lower())
