"""``GET /metrics`` in the Prometheus text format.

Requests and their latency by listener are measured here, around the HTTP handler; the
queue, delivery, budget and scheduler counters come from ``store.metrics``, and the queue
depth is asked of the database at scrape time. Each web app has its own registry, so two
apps in one process (tests, the demo) never collide.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import metrics as counters

logger = logging.getLogger("tenderbot.metrics")

QUEUE_TIMEOUT_SECONDS = 2.0
HELP = {
    counters.DELIVERIES: "Side effects delivered (e-mails, Slack DMs and posts), by kind.",
    counters.RETRIES: "Failed deliveries that will be tried again, by kind and reason.",
    counters.DEAD_LETTERS: "Deliveries given up (dead letters), by kind and reason.",
    counters.BUDGET_RUNS: "Runs of the yearly budget step (B1-B3), by outcome.",
    counters.SCHEDULER_JOBS: "Runs of scheduled jobs, by job and outcome.",
}
# Shown at 0 before anything happened, so an alert's expression has a series from the start.
KINDS = counters.KINDS
ALWAYS_SHOWN = ((counters.DELIVERIES, "kind", KINDS),)


class Metrics:
    """The registry of one web app: the request metrics and the store's counters."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tenderbot_requests",
            "HTTP requests from Slack, by listener and status.",
            ["listener", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tenderbot_request_seconds",
            "Time to answer a Slack request (the ack), by listener.",
            ["listener"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
            registry=self.registry,
        )
        self._store = _StoreCollector()
        self.registry.register(self._store)

    def observe(self, listener: str, status: int, started: float) -> None:
        self.requests.labels(listener, str(status)).inc()
        self.latency.labels(listener).observe(time.perf_counter() - started)

    async def exposition(self) -> bytes:
        self._store.queues = await self._queue_stats()
        return generate_latest(self.registry)

    async def _queue_stats(self) -> list[counters.QueueStat] | None:
        try:
            async with asyncio.timeout(QUEUE_TIMEOUT_SECONDS), self.sessions() as session:
                return await counters.queue_stats(session)
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            # The counters are still worth a scrape; /readyz reports the database.
            logger.warning("metrics: queue depth unavailable: %s", error)
            return None


class _StoreCollector(Collector):
    def __init__(self) -> None:
        self.queues: list[counters.QueueStat] | None = None

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        snapshot = counters.counted()
        for name, label, values in ALWAYS_SHOWN:
            for shown in values:
                snapshot.setdefault((name, ((label, shown),)), 0)
        for (name, labels), amount in sorted(snapshot.items()):
            family = families.get(name)
            if family is None:
                family = CounterMetricFamily(
                    name, HELP.get(name, name), labels=[key for key, _ in labels]
                )
                families[name] = family
            family.add_metric([value for _, value in labels], amount)
        yield from families.values()
        if self.queues is None:
            return
        depth = GaugeMetricFamily(
            "tenderbot_queue_depth", "Rows waiting to be delivered, by kind.", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "tenderbot_queue_oldest_due_seconds",
            "How long the oldest due row has waited, by kind (0: none due).",
            labels=["kind"],
        )
        stats = {kind: counters.QueueStat(kind, 0, 0.0) for kind in KINDS}
        stats.update((stat.kind, stat) for stat in self.queues)
        for kind, stat in sorted(stats.items()):
            depth.add_metric([kind], stat.depth)
            age.add_metric([kind], stat.oldest_due_seconds)
        yield depth
        yield age


METRICS_KEY = web.AppKey("metrics", Metrics)


def install(web_app: web.Application, sessions: async_sessionmaker[AsyncSession]) -> Metrics:
    metrics = Metrics(sessions)
    web_app[METRICS_KEY] = metrics
    web_app.router.add_get("/metrics", _metrics)
    return metrics


async def _metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS_KEY].exposition()
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def listener_name(body: dict[str, Any]) -> str:
    """The listener a Slack request is for: ``/angebot``, ``action:…``, ``event:message`` …"""
    if isinstance(body.get("command"), str):
        return str(body["command"])
    kind = body.get("type")
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict):
        return f"event:{event.get('type')}"
    actions = body.get("actions")
    if kind == "block_actions" and isinstance(actions, list) and actions:
        first = actions[0]
        if isinstance(first, dict):
            return f"action:{first.get('action_id')}"
    view = body.get("view")
    if kind in ("view_submission", "view_closed") and isinstance(view, dict):
        return f"view:{view.get('callback_id')}"
    if kind in ("shortcut", "message_action"):
        return f"shortcut:{body.get('callback_id')}"
    return str(kind or "unknown")
