"""The queue's retry schedule: an outage of hours is waited out, not dead-lettered."""

from __future__ import annotations

import random
from datetime import timedelta

from store.queue import Job, RetryPolicy, TransportError, failed

SMTP_DOWN = TransportError("smtp 421: service not available")


def job_of(attempts: int) -> Job:
    return Job(
        id=1,
        kind="email",
        recipient="anna@makler-adler.example",
        template="offer_available",
        context={},
        message_id="<m1@tenderbot>",
        attempts=attempts,
        owner="worker",
    )


class Lowest(random.Random):
    """Jitter that always picks the shortest pause: the earliest a row could give up."""

    def random(self) -> float:
        return 0.0


def waited_until_dead(policy: RetryPolicy) -> timedelta:
    """How long a row whose every attempt fails is retried before it is dead-lettered."""
    waited = timedelta(0)
    for attempts in range(1, policy.max_attempts + 1):
        outcome = failed(job_of(attempts), SMTP_DOWN, policy)
        if outcome.status == "dead":
            return waited
        waited += outcome.retry_in
    raise AssertionError("never gave up")


def test_it_retries_mail_through_an_outage_of_a_night_before_giving_up() -> None:
    policy = RetryPolicy(rng=Lowest())

    assert waited_until_dead(policy) > timedelta(hours=10)


def test_it_pauses_at_most_half_an_hour_so_mail_follows_soon_after_the_server_returns() -> None:
    policy = RetryPolicy(rng=random.Random(3))

    pauses = [policy.delay(attempts) for attempts in range(1, policy.max_attempts)]

    assert max(pauses) <= timedelta(minutes=30)
    assert pauses[0] <= timedelta(seconds=30)


def test_it_compresses_the_whole_schedule_with_its_first_pause() -> None:
    compressed = RetryPolicy.starting_at(timedelta(seconds=0.5))
    production = RetryPolicy()

    assert compressed.cap / compressed.base == production.cap / production.base
    assert compressed.max_attempts == production.max_attempts
