"""examples/grafana-dashboard.json queries metrics that aiosio.metrics really serves.

The dashboard is read as Grafana would (JSON, panels with Prometheus targets), and every
metric name in its queries must be one that a served /metrics page declares, with the
labels the queries group by; so a renamed metric fails here, not on someone's dashboard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

import aiosio
import aiosio.metrics
from tests.support.servers import running

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana-dashboard.json"
METRIC = re.compile(r"\baiosio_[a-z_]+\b")
GROUP_BY = re.compile(r"by \(([\w, ]+)\)\s*\(\s*(?:rate\()?(aiosio_[a-z_]+)")


async def test_the_dashboard_queries_served_metrics_by_their_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(queries) >= 8

    io = aiosio.Server()
    aiosio.metrics.enable(io, path="/metrics")
    async with running(io) as url:
        client = await aiosio.connect(url)  # so that the gauges have labelled samples
        async with httpx.AsyncClient(base_url=url) as http:
            page = (await http.get("/metrics")).text
        await client.disconnect()
    declared = set(re.findall(r"^# TYPE (\w+) ", page, re.MULTILINE))
    checked = 0
    for query in queries:
        unknown = set(METRIC.findall(query)) - declared
        assert not unknown, f"{query}: no such metric {unknown}"
        for labels, metric in GROUP_BY.findall(query):
            samples = re.findall(rf"^{metric}\{{([^}}]*)\}}", page, re.MULTILINE)
            for label in (name.strip() for name in labels.split(",")):
                # A labelled family: a sample with that label, once there is traffic.
                if samples:
                    assert any(f"{label}=" in sample for sample in samples), (query, label)
                    checked += 1
    assert checked >= 3  # connected sockets and rooms by namespace, sessions by transport
