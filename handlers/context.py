"""The plumbing every listener shares: who is acting, one transaction, German replies.

A listener acks first, then runs its work through ``replying``: domain refusals and bad
input become the service's German sentence, anything unexpected is logged with the
request's context and answered with an apology, never a traceback. A quick command (one
read, well inside Slack's 3 s) answers in the ack itself through ``answering`` instead: no
response_url round trip, and the user sees the answer as soon as Slack has the ack.
``on_click``, ``on_command`` and ``on_quick_command`` register these, so a handler holds only
its work.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.blocks.base import escape, notice
from handlers.deps import Deps
from handlers.parsing import InputError, normalise_key
from pricing.slack_text import typed
from store.actors import Actor, resolve_actor
from store.db import counting_commits, transaction
from store.errors import DomainError

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]
Ack = Callable[..., Awaitable[Any]]

TECHNICAL_ERROR = (
    "Das hat leider nicht geklappt – ein technischer Fehler ist aufgetreten. "
    "Bitte versuchen Sie es gleich noch einmal; wir sehen uns den Fehler an."
)
HELP_WORDS = frozenset({"hilfe", "help", "?"})


@dataclass
class Unit:
    """One unit of work for one Slack user: the open session and who they are."""

    session: AsyncSession
    actor: Actor


@asynccontextmanager
async def acting(deps: Deps, slack_user_id: str) -> AsyncIterator[Unit]:
    """Resolve the actor and hold one transaction; raises NotABroker for strangers."""
    async with transaction(deps.sessions) as session:
        actor = await resolve_actor(session, slack_user_id, deps.backoffice_users)
        yield Unit(session=session, actor=actor)


def today(deps: Deps) -> date:
    """Validity dates are calendar days where the desk works, not UTC days."""
    return datetime.now(deps.zone).date()


def user_message(error: DomainError | InputError) -> str:
    return escape(error.message_de)


def split_subcommand(text: str) -> tuple[str, str]:
    head, _, rest = text.strip().partition(" ")
    return normalise_key(head), rest.strip()


def is_help(text: str) -> bool:
    return normalise_key(text) in HELP_WORDS


async def reply(respond: Respond, text: str) -> None:
    """An ephemeral answer to the user who asked (text already escaped)."""
    await respond(**notice(text), response_type="ephemeral", replace_original=False)


# Pauses before each new try of work that met a passing database problem: about a minute
# in all, long enough for a pool to free up or a restarted server to come back.
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)
# Errors of the database driver that mean "no connection now", not "this statement is wrong".
_CONNECTION_TROUBLE = frozenset(
    {
        "TooManyConnectionsError",  # asyncpg: PostgreSQL's "too many clients"
        "CannotConnectNowError",  # asyncpg: the server is starting or shutting down
        "ConnectionDoesNotExistError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "ConnectionError",
        "TimeoutError",
        "OSError",
    }
)


def is_transient(error: BaseException) -> bool:
    """A database problem that passes: the pool had no connection in time, the server
    refused or dropped one. Wrong statements, refusals and bugs are not."""
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    cause: BaseException | None = getattr(error, "orig", None) or error.__cause__
    seen = 0
    while cause is not None and seen < 5:
        names = {kind.__name__ for kind in type(cause).__mro__}
        if names & _CONNECTION_TROUBLE:
            return True
        if "database is locked" in str(cause):  # SQLite: a writer outlasted busy_timeout
            return True
        cause, seen = cause.__cause__, seen + 1
    return False


class WorkSlots:
    """Bounds how many requests' after-ack work runs at once.

    Each running work holds a pooled connection, and some wait on a row lock (rule T4's
    yearly counter) while holding it; unbounded, a burst drained the pool and the requests
    behind failed after the pool timeout although Slack had its ack. Bounded below the
    pool, the excess waits here in memory, still tracked for the shutdown drain.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = asyncio.Semaphore(size)

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        async with self._semaphore:
            await work()


_slots: weakref.WeakKeyDictionary[AsyncApp, WorkSlots] = weakref.WeakKeyDictionary()


def limit_work(app: AsyncApp, size: int) -> None:
    """Let at most ``size`` works of ``app``'s ``on_click``/``on_command`` listeners run at once."""
    _slots[app] = WorkSlots(size)


async def retrying(
    what: str, work: Callable[[], Awaitable[None]], slots: WorkSlots | None = None
) -> None:
    """Run ``work`` (in one of ``slots``); after a passing database problem that struck
    before anything committed, run it again after a pause. Anything else is raised."""
    for attempt, pause in enumerate((*RETRY_PAUSES, None), start=1):
        with counting_commits() as commits:
            try:
                await (slots.run(work) if slots is not None else work())
                return
            except Exception as error:
                if pause is None or commits[0] or not is_transient(error):
                    raise
                logger.warning(
                    "%s: database unavailable (%s), try %d again in %.1f s",
                    what,
                    type(error).__name__,
                    attempt + 1,
                    pause,
                )
        await asyncio.sleep(pause)


def work_slots(app: AsyncApp) -> WorkSlots | None:
    """The bound ``limit_work`` set for ``app``, if any."""
    return _slots.get(app)


async def replying(
    respond: Respond,
    what: str,
    work: Callable[[], Awaitable[None]],
    slots: WorkSlots | None = None,
) -> None:
    """Run ``work``; turn refusals and failures into an ephemeral German reply.

    Work that met a passing database problem before it committed anything is tried again
    after a pause: its transaction was rolled back (an event's claim of its event_id with
    it), so the request was acknowledged but nothing of it is stored yet.
    """
    try:
        await retrying(what, work, slots)
    except (DomainError, InputError) as error:
        await reply(respond, user_message(error))
    except Exception:
        logger.exception("%s failed", what)
        await reply(respond, TECHNICAL_ERROR)


async def answering(ack: Ack, what: str, work: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    """Ack with the message ``work`` builds (ephemeral); refusals and failures become the
    German reply in the ack, as ``replying`` would send it later. Returns what ``ack`` does."""
    try:
        message = await work()
    except (DomainError, InputError) as error:
        message = notice(user_message(error))
    except Exception:
        logger.exception("%s failed", what)
        message = notice(TECHNICAL_ERROR)
    return await ack(**message, response_type="ephemeral")


@dataclass(frozen=True)
class Request:
    """What a listener's work needs from one slash command or button click."""

    user_id: str
    text: str  # the command's text, or the button's value
    trigger_id: str
    respond: Respond
    client: AsyncWebClient


Work = Callable[[Request], Awaitable[None]]


def on_click(app: AsyncApp, *action_ids: str, what: str) -> Callable[[Work], Work]:
    """Register ``work`` for the buttons ``action_ids``: ack, then ``replying``."""

    def register(work: Work) -> Work:
        async def listener(
            ack: AsyncAck,
            body: dict[str, Any],
            action: dict[str, Any],
            respond: Respond,
            client: AsyncWebClient,
        ) -> None:
            await ack()
            request = Request(
                user_id=body["user"]["id"],
                text=str(action.get("value") or ""),
                trigger_id=str(body.get("trigger_id") or ""),
                respond=respond,
                client=client,
            )
            await replying(
                respond, f"{what} by {request.user_id}", lambda: work(request), _slots.get(app)
            )

        for action_id in action_ids:
            app.action(action_id)(listener)
        return work

    return register


def command_request(command: dict[str, Any], respond: Respond, client: AsyncWebClient) -> Request:
    return Request(
        user_id=command["user_id"],
        text=typed(command.get("text")),
        trigger_id=str(command.get("trigger_id") or ""),
        respond=respond,
        client=client,
    )


def on_command(app: AsyncApp, name: str) -> Callable[[Work], Work]:
    """Register ``work`` for the slash command ``name``: ack, then ``replying``."""

    def register(work: Work) -> Work:
        async def listener(
            ack: AsyncAck, command: dict[str, Any], respond: Respond, client: AsyncWebClient
        ) -> None:
            await ack()
            request = command_request(command, respond, client)
            await replying(
                respond, f"{name} by {request.user_id}", lambda: work(request), _slots.get(app)
            )

        app.command(name)(listener)
        return work

    return register


Answer = Callable[[str, str], Awaitable[dict[str, Any]]]


def _always(_text: str) -> bool:
    return True


def on_quick_command(
    app: AsyncApp, name: str, *, when: Callable[[str], bool] = _always
) -> Callable[[Answer], Answer]:
    """Register ``answer(user_id, text)`` for the slash command ``name`` (for the texts
    ``when`` accepts): the message it builds is the ack itself."""

    def register(answer: Answer) -> Answer:
        app.use(_AnswerInAck(name, answer, when))
        return answer

    return register


class _AnswerInAck(AsyncMiddleware):
    """Answers a quick command inside Bolt's dispatch, before any listener runs.

    A listener runs as its own task while Bolt checks every 10 ms whether it has acked, so
    an answer built in a listener waits for the next check, and each check costs a wake-up
    of the event loop. Answered here, the response leaves as soon as the answer is built.
    Every other request passes on with one dictionary lookup.
    """

    def __init__(self, command: str, answer: Answer, when: Callable[[str], bool]) -> None:
        self.command = command
        self.answer = answer
        self.when = when

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        body = req.body
        text = typed(body.get("text"))
        if body.get("command") != self.command or not self.when(text):
            return await next()
        user_id = str(body.get("user_id") or "")
        response: BoltResponse = await answering(
            req.context.ack, f"{self.command} by {user_id}", lambda: self.answer(user_id, text)
        )
        return response
