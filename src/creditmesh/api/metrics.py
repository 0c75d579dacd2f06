"""The service's Prometheus metrics (``GET /metrics``): requests and latency by route, decisions by stage
and outcome, the automation rate, partner capacity used.

Each app holds its own registry (nothing is registered at import). Under ``creditmesh serve
--workers N`` the server sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh folder before the workers
start, so each worker writes its samples there and any worker's ``/metrics`` answers for all of
them; the automation-rate gauge is then one series per worker (``pid`` label), since a ratio does
not add up: ``sum(rate(creditmesh_decisions_total{automated="true"}[5m])) /
sum(rate(creditmesh_decisions_total[5m]))`` is the service-wide rate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: Latency buckets in seconds: fine below 50 ms, where the service should answer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metrics of one app; ``capacity_used`` (when given) reports each partner's share of capacity used."""

    def __init__(self, capacity_used: Callable[[], Mapping[str, float]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.capacity_used = capacity_used
        self.requests = Counter(
            "creditmesh_requests",
            "HTTP requests answered, by route template, method and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "creditmesh_request_seconds",
            "time to answer, by route template",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "creditmesh_decisions",
            "decisions made (not repeats answered from the log), by stage, outcome and automated",
            ("stage", "outcome", "automated"),
            registry=self.registry,
        )
        self.automation = Gauge(
            "creditmesh_automation_rate",
            "share of this worker's decisions made without a person, by stage",
            ("stage",),
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.capacity = Gauge(
            "creditmesh_partner_capacity_used_ratio",
            "share of each funding partner's capacity this worker has matched",
            ("institution_id",),
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self._made: dict[str, list[int]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_decision(self, stage: str, outcome: str, automated: bool) -> None:
        self.decisions.labels(stage, outcome, "true" if automated else "false").inc()
        made = self._made.setdefault(stage, [0, 0])
        made[0] += int(automated)
        made[1] += 1
        self.automation.labels(stage).set(made[0] / made[1])

    def render(self) -> bytes:
        """The exposition text: this app's registry, or every worker's samples under multiprocess mode."""
        if self.capacity_used is not None:
            for institution_id, used in self.capacity_used().items():
                self.capacity.labels(institution_id).set(used)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def matcher_capacity_used(matcher: Any) -> Callable[[], Mapping[str, float]]:
    """Each partner's share of capacity used, read from an online matcher's remaining room."""

    def used() -> Mapping[str, float]:
        total = matcher.partners.capacity_minor
        return {
            str(pid): (1 - room / cap) if cap > 0 else 0.0
            for pid, room, cap in zip(matcher.partners.ids, matcher.room.capacity, total)
        }

    return used
