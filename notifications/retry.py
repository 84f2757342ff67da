"""When to try again: exponential backoff with jitter, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=2)
    # How long a claimed row belongs to one worker; after that a crashed worker's rows
    # become claimable again. Longer than one batch can take with all timeouts.
    lease: timedelta = timedelta(minutes=5)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay(self, attempts: int) -> timedelta:
        """After the n-th failed attempt: base·2^(n-1), capped, between half and all of it.

        The random half spreads retries so a recovered server is not hit by every row at
        the same second; the fixed half keeps a minimum pause.
        """
        ceiling = min(self.cap, self.base * (2 ** max(attempts - 1, 0)))
        half: timedelta = ceiling / 2
        return half + half * self.rng.random()
