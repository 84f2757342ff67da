"""Serving the Slack app over HTTP: ``POST /slack/events``, ``POST /platform/events``,
``GET /healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import logging
import signal
import time
import uuid
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.background import Background, start_background
from bot.inflight import InFlight, track_listeners
from bot.response_url import close_replies
from bot.schema import SchemaNotCurrent, check_schema, check_sessions_schema
from bot.settings import Settings
from bot.slack_client import kept_alive
from bot.workspace import check_workspace
from handlers.platform_api import PLATFORM_PATH, platform_handler
from store.db import make_engine, make_sessionmaker
from store.logcontext import bound
from store.migrate import upgrade

logger = logging.getLogger("tenderbot.http")

EVENTS_PATH = "/slack/events"
HEALTH_TIMEOUT_SECONDS = 2.0
# Slack's largest bodies (a modal's state, an event with blocks) stay far below this; file
# contents never pass through this endpoint. Larger bodies are refused with 413 unread.
MAX_BODY_BYTES = 512 * 1024
# SIGTERM: requests in flight get this long to be answered; the acknowledged work then gets
# what is left of STOP_SECONDS to commit, inside the 10 s a container runtime waits for.
REQUEST_GRACE_SECONDS = 3.0
STOP_SECONDS = 9.0
SESSIONS_KEY = web.AppKey("sessions", async_sessionmaker[AsyncSession])
BOLT_KEY = web.AppKey("bolt", AsyncApp)
SIGNING_SECRET_KEY = web.AppKey("signing_secret", bytes)
# As Bolt: an older signed request may be a replay.
SIGNATURE_MAX_AGE_SECONDS = 300
IN_FLIGHT_KEY = web.AppKey("in_flight", InFlight)
SETTINGS_KEY = web.AppKey("settings", Settings)
# Shape errors Bolt raises on a well-formed JSON object of the wrong shape (``"actions": 5``).
MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError)


def build_web_app(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], app: AsyncApp
) -> web.Application:
    web_app = build_probe_app(settings, sessions)
    web_app[BOLT_KEY] = app
    secret = settings.slack_signing_secret
    web_app[SIGNING_SECRET_KEY] = (secret.get_secret_value() if secret else "").encode()
    web_app[IN_FLIGHT_KEY] = track_listeners(app)
    web_app.router.add_post(EVENTS_PATH, _slack_events)
    if settings.platform_secret is not None:
        # Without the secret the platform endpoint is off: the route does not exist (404).
        web_app.router.add_post(
            PLATFORM_PATH,
            platform_handler(settings.platform_secret.get_secret_value(), sessions),
        )
    # First the acknowledged work, then the HTTP session its replies go out on.
    web_app.on_cleanup.append(_drain_listeners)
    web_app.on_cleanup.append(_close_replies)
    return web_app


def build_probe_app(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> web.Application:
    """``/healthz``, ``/readyz`` and ``/metrics`` alone: what ``tenderbot scheduler
    --metrics-port`` serves, and the base of the Slack app."""
    from bot.metrics import install

    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_app[SESSIONS_KEY] = sessions
    web_app[SETTINGS_KEY] = settings
    install(web_app, sessions)
    web_app.router.add_get("/healthz", _healthz)
    web_app.router.add_get("/readyz", _readyz)
    return web_app


async def _drain_listeners(web_app: web.Application) -> None:
    in_flight = web_app[IN_FLIGHT_KEY]
    if len(in_flight):
        logger.info("shutdown: waiting for %d acknowledged request(s)", len(in_flight))
    started = time.monotonic()
    await in_flight.drain(in_flight.time_left(default=STOP_SECONDS))
    logger.info("shutdown: acknowledged work done in %.1f s", time.monotonic() - started)


async def _close_replies(web_app: web.Application) -> None:
    await close_replies(web_app[BOLT_KEY])


async def _slack_events(request: web.Request) -> web.Response:
    from bot.metrics import METRICS_KEY, listener_name

    started = time.perf_counter()
    raw = await request.read()
    body = _parsed(raw, request.content_type)
    if isinstance(body, str):
        return _refuse(request, raw, body)
    listener = listener_name(body)
    response = await _dispatch(request, raw, body, listener)
    request.app[METRICS_KEY].observe(listener, response.status, started)
    return response


def _parsed(raw: bytes, content_type: str) -> dict[str, Any] | str:
    """The body as Bolt will read it, or what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    try:
        body = parse_body(text, content_type)
    except ValueError as error:
        return f"body or its payload is not JSON ({error})"
    if not isinstance(body, dict):
        return f"body or its payload is a JSON {type(body).__name__}, not an object"
    return body


async def _dispatch(
    request: web.Request, raw: bytes, body: dict[str, Any], listener: str
) -> web.Response:
    event = body.get("event")
    request_id = body.get("event_id") or body.get("trigger_id") or uuid.uuid4().hex[:12]
    # Listener tasks started inside copy these fields into their own log lines.
    with bound(slack_request=request_id, listener=listener):
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
            bolt_response = await request.app[BOLT_KEY].async_dispatch(bolt_request)
        except MALFORMED as error:
            return _refuse(request, raw, f"{listener}: {type(error).__name__}: {error}")
    if bolt_response.status == 404 and isinstance(event, dict):
        # Slack sends what the app subscribed to; anything else is acknowledged, or Slack
        # would retry it three times, and logged for whoever changed the subscriptions.
        logger.info("no listener for Slack event %s (%s); ignored", event.get("type"), request_id)
        return web.Response(status=200)
    return await to_aiohttp_response(bolt_response)


def _signed(request: web.Request, raw: bytes) -> bool:
    """Slack's signature over the raw bytes (slack_sdk's verifier needs UTF-8 text)."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    secret = request.app[SIGNING_SECRET_KEY]
    digest = hmac.new(secret, b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256)
    expected = f"v0={digest.hexdigest()}"
    return hmac.compare_digest(expected, request.headers.get("X-Slack-Signature", ""))


def _refuse(request: web.Request, raw: bytes, problem: str) -> web.Response:
    """401 for a bad signature (as Bolt answers), 400 for a signed body that is malformed."""
    if not _signed(request, raw):
        return web.json_response({"error": "invalid request"}, status=401)
    logger.warning("refused a signed Slack request with 400: %s", problem)
    return web.json_response({"error": "malformed request"}, status=400)


async def _healthz(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS_KEY]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), sessions() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        logger.warning("health check: database unreachable: %s", error)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: the database answers and is at the newest migration."""
    settings = request.app[SETTINGS_KEY]
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await check_sessions_schema(request.app[SESSIONS_KEY], settings)
    except SchemaNotCurrent as error:
        logger.warning("not ready: %s", error)
        return web.json_response({"status": "error", "database": "not migrated"}, status=503)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        logger.warning("not ready: database unreachable: %s", error)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def start_web_app(
    web_app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve ``web_app`` in this event loop; port 0 picks a free one, which is returned."""
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=REQUEST_GRACE_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


def freeze_startup_heap() -> None:
    """Call once the app is built: start-up objects are left out of every later collection.

    All that was imported and built lives as long as the process; a full collection walking
    it held the event loop, and with it every ack, for 60-80 ms. Frozen, a collection walks
    only what requests created.
    """
    gc.collect()
    gc.freeze()


async def open_database(
    settings: Settings, *, migrate: bool
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Connect and make sure the schema is current (migrating first when asked to)."""
    schema = settings.database_schema
    if migrate:
        await asyncio.to_thread(upgrade, settings.database_url, search_path=schema)
    engine = make_engine(settings.database_url, search_path=schema, **settings.database_pooling)
    try:
        await check_schema(engine, settings)
    except BaseException:
        await engine.dispose()
        raise
    return engine, make_sessionmaker(engine)


async def until_stopped(stop: asyncio.Event | None = None) -> None:
    """Wait for SIGINT/SIGTERM (or ``stop``): a container stop shuts down cleanly."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    migrate: bool = False,
    stop: asyncio.Event | None = None,
    ready: asyncio.Future[int] | None = None,
) -> None:
    """Serve Slack over HTTP with the schedule and the outbox running alongside.

    The schema is checked, not silently migrated: ``migrate=True`` (``--migrate``) opts in,
    so that several replicas starting at once never race on a migration by default.
    """
    engine, sessions = await open_database(settings, migrate=migrate)
    runner: web.AppRunner | None = None
    background: Background | None = None
    async with contextlib.AsyncExitStack() as closing:
        closing.push_async_callback(engine.dispose)
        app = create_app(settings, sessions)
        # Closed after the shutdown below: the listeners and the queue still call Slack.
        await closing.enter_async_context(kept_alive(app.client))
        try:
            await check_workspace(app.client, settings.backoffice_channel)
            runner, bound = await start_web_app(build_web_app(settings, sessions, app), host, port)
            background = start_background(settings, sessions, app.client)
            freeze_startup_heap()
            logger.info("serving Slack on http://%s:%s%s", host, bound, EVENTS_PATH)
            if ready is not None:
                ready.set_result(bound)
            await until_stopped(stop)
            logger.info("stopping: no new requests; finishing those in flight")
        finally:
            await _shut_down(runner, background)


async def _shut_down(runner: web.AppRunner | None, background: Background | None) -> None:
    """Stop accepting, answer the requests in flight, commit what was acknowledged, then
    let the background jobs finish their batch so no lease is left behind."""
    stopping_jobs = asyncio.create_task(background.stop()) if background is not None else None
    try:
        if runner is not None:
            runner.app[IN_FLIGHT_KEY].stop_by(time.monotonic() + STOP_SECONDS)
            # Closes the listening socket, waits for the requests in flight, then the
            # cleanup hooks: the acknowledged listener work first (see build_web_app).
            await runner.cleanup()
    finally:
        if stopping_jobs is not None:
            await stopping_jobs
