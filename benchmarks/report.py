"""Medians, ratios to Node, the tables, the chart, and the files in benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.runner import BENCH_DIR
from benchmarks.scenarios import BASELINE, CPU_METRICS, PEERS, SCENARIOS, TARGETS, Metric

README = BENCH_DIR / "README.md"
README_BEGIN = "<!-- results:begin -->"
README_END = "<!-- results:end -->"
LABELS = {peer.name: peer.label for peer in PEERS}
NOISE_CPU = 0.15  # cores used by other processes in a measured window that make it noisy

Cell = dict[str, Any]  # one run of one scenario on one server: figures, or {"error": ...}


@dataclass
class Results:
    """Everything one harness invocation measured."""

    servers: list[str]
    scenarios: list[str]
    runs: int
    quick: bool
    meta: dict[str, Any]
    unavailable: dict[str, str] = field(default_factory=dict)
    cells: dict[str, dict[str, list[Cell]]] = field(default_factory=dict)

    def add(self, scenario: str, server: str, cell: Cell) -> None:
        self.cells.setdefault(scenario, {}).setdefault(server, []).append(cell)

    def median(self, scenario: str, server: str, metric: str) -> float | None:
        values = [
            c[metric]
            for c in self.cells.get(scenario, {}).get(server, [])
            if isinstance(c.get(metric), int | float)
        ]
        return statistics.median(values) if values else None

    def ratios(self, scenario: str, server: str, metric: str) -> list[float]:
        """Run k of ``server`` over run k of Node: runs are interleaved, so each pair shared
        the machine's state; their range is the spread of the ratio."""
        by_server = self.cells.get(scenario, {})
        pairs = zip(by_server.get(server, []), by_server.get(BASELINE, []), strict=False)
        return [
            c[metric] / b[metric]
            for c, b in pairs
            if isinstance(c.get(metric), int | float) and isinstance(b.get(metric), int | float)
            if b[metric]
        ]

    def errors(self, scenario: str, server: str) -> list[str]:
        return [c["error"] for c in self.cells.get(scenario, {}).get(server, []) if "error" in c]

    def measured(self) -> list[str]:
        return [s for s in self.servers if s not in self.unavailable]


# ---------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _command_output(["node", "--version"]),
        "commit": _command_output(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"]),
        "src_dirty": bool(
            _command_output(["git", "-C", str(BENCH_DIR), "status", "--porcelain", "--", "../src"])
        ),
        "versions": package_versions(),
    }


def machine_slug(info: dict[str, Any]) -> str:
    """A file-name-safe machine label, e.g. ``amd-epyc-2cpu``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(info["cpu"]).lower()).strip("-")
    return f"{slug[:32].strip('-')}-{info['cpus']}cpu"


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions: dict[str, str] = {}
    python_packages = ("aiosio", "python-socketio", "python-engineio", "uvicorn", "uvloop")
    for name in (*python_packages, "websockets", "httptools"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    for name in ("socket.io", "engine.io", "ws"):
        package = BENCH_DIR / "node_modules" / name / "package.json"
        if package.exists():
            versions[f"npm:{name}"] = json.loads(package.read_text())["version"]
    return versions


def _command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "-"


# ---------------------------------------------------------------- formatting


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(value: float | None, baseline: float | None, ratios: Sequence[float] = ()) -> str:
    """`` (1.82x)``, or with several runs `` (1.82x, 1.70-1.95)``: the median's ratio and the
    range of the per-run ratios."""
    if value is None or not baseline:
        return ""
    if len(ratios) < 2:
        return f" ({value / baseline:.2f}x)"
    return f" ({value / baseline:.2f}x, {min(ratios):.2f}-{max(ratios):.2f})"


def metric_label(metric: Metric) -> str:
    arrow = "↑" if metric.higher_is_better else "↓"
    unit = "" if metric.unit in ("/s", "") or metric.unit in metric.label else f" ({metric.unit})"
    return f"{metric.label}{unit} {arrow}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main_table(results: Results) -> str:
    """Each figure per server, with its ratio to Node measured in the same run."""
    servers = results.measured()
    rows: list[list[str]] = []
    for scenario in SCENARIOS:
        if scenario.name not in results.scenarios:
            continue
        for metric in scenario.metrics:
            base = results.median(scenario.name, BASELINE, metric.key)
            row = [scenario.name, metric_label(metric)]
            for server in servers:
                value = results.median(scenario.name, server, metric.key)
                if value is None and results.errors(scenario.name, server):
                    row.append("failed")
                    continue
                ratios = results.ratios(scenario.name, server, metric.key)
                ratio = fmt_ratio(value, base, ratios) if server != BASELINE else ""
                row.append(fmt(value) + ratio)
            rows.append(row)
    return markdown_table(["scenario", "figure", *servers], rows)


def cpu_table(results: Results) -> str:
    """CPU used by each side in the measured window: who was the bottleneck."""
    servers = results.measured()
    rows: list[list[str]] = []
    for scenario in SCENARIOS:
        if scenario.name not in results.scenarios:
            continue
        row = [scenario.name]
        for server in servers:
            cpu = [results.median(scenario.name, server, m.key) for m in CPU_METRICS]
            row.append(" / ".join(fmt(c) for c in cpu))
        rows.append(row)
    header = "scenario (cores: server / load generator / other processes)"
    return markdown_table([header, *servers], rows)


def target_rows(results: Results) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        if target.scenario not in results.scenarios or target.server not in results.measured():
            continue
        value = results.median(target.scenario, target.server, target.metric)
        if target.versus is None:
            figure = value
        else:
            base = results.median(target.scenario, target.versus, target.metric)
            figure = value / base if value is not None and base else None
        met = None
        if figure is not None:
            met = figure >= target.bound if target.at_least else figure <= target.bound
        rows.append({"target": target, "figure": figure, "met": met})
    return rows


def targets_table(results: Results) -> str:
    rows = []
    for row in target_rows(results):
        target = row["target"]
        sign = ">=" if target.at_least else "<="
        unit = "x" if target.versus else ""
        versus = f" {LABELS.get(target.versus, target.versus)}" if target.versus else ""
        status = {True: "met", False: "not met", None: "-"}[row["met"]]
        figure = f"{row['figure']:.2f}{unit}" if row["figure"] is not None else "-"
        rows.append(
            [target.label, target.server, f"{sign} {target.bound:g}{unit}{versus}", figure, status]
        )
    return markdown_table(["figure", "server", "target", "measured", ""], rows)


def server_legend(results: Results) -> str:
    lines = []
    for server in results.servers:
        status = (
            f": unavailable ({results.unavailable[server]})"
            if server in results.unavailable
            else ""
        )
        lines.append(f"- `{server}`: {LABELS.get(server, server)}{status}")
    return "\n".join(lines)


def noise_note(results: Results) -> str | None:
    """A warning when other processes used the CPUs during the measured windows."""
    others = [
        value
        for scenario in results.scenarios
        for server in results.measured()
        if (value := results.median(scenario, server, "other_cpu")) is not None
    ]
    noisy = [v for v in others if v > NOISE_CPU]
    if not noisy:
        return None
    return (
        f"**Noisy run:** in {len(noisy)} of {len(others)} figures, other processes used more "
        f"than {NOISE_CPU} of a core during the measured window (up to {max(noisy):.2f} cores, "
        "median of the runs); see the CPU table. Compare those figures with care."
    )


def machine_line(meta: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    commit = meta.get("commit", "-") + (
        " + uncommitted src/ changes" if meta.get("src_dirty") else ""
    )
    return (
        f"{meta['date']} at commit {commit} on {meta['cpu']}, {meta['cpus']} CPUs, "
        f"{meta['memory_gib']} GiB, "
        f"Linux {meta['kernel']}, Python {meta['python']}, Node {meta['node']}; {versions}"
    )


def instructions_table(figures: dict[str, float]) -> str:
    rows = [[name, f"{value:,.0f}"] for name, value in figures.items()]
    return markdown_table(["workload", "instructions per operation"], rows)


def markdown(results: Results, chart_name: str | None) -> str:
    """The report: machine, servers, the tables and the chart."""
    meta = results.meta
    kind = "quick smoke run" if results.quick else f"median of {results.runs} runs"
    parts = [
        f"# aiosio benchmarks, {meta['date']}",
        "",
        f"Measured {machine_line(meta)}.",
        "",
        f"Server pinned to CPU {meta['server_cpu']}, load generator to CPU {meta['loadgen_cpu']}; "
        f"{kind}; ratios are to Node socket.io measured in the same run. "
        "↑ higher is better, ↓ lower is better.",
        "",
        server_legend(results),
        "",
    ]
    if note := noise_note(results):
        parts += [note, ""]
    parts += [main_table(results), ""]
    if chart_name:
        parts += [f"![ratios to Node]({chart_name})", ""]
    if meta.get("instructions"):
        parts += [
            "## Instructions per operation (callgrind, aiosio only)",
            "",
            "Counted by `python -m benchmarks.instructions` on this commit: the same to the "
            "instruction on every run, whatever the machine is doing "
            "(history: `results/instructions.csv`).",
            "",
            instructions_table(meta["instructions"]),
            "",
        ]
    parts += ["## Targets (issue 4)", "", targets_table(results), ""]
    parts += ["## CPU in the measured window", "", cpu_table(results), ""]
    failures = [
        f"- {scenario} on {server}: {error}"
        for scenario, by_server in results.cells.items()
        for server in by_server
        for error in results.errors(scenario, server)
    ]
    if failures:
        parts += ["## Failures", "", *failures, ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- files


def to_json(results: Results) -> dict[str, Any]:
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for scenario in SCENARIOS:
        if scenario.name not in results.scenarios:
            continue
        for metric in (*scenario.metrics, *CPU_METRICS):
            summary.setdefault(scenario.name, {})[metric.key] = {
                server: results.median(scenario.name, server, metric.key)
                for server in results.measured()
            }
    return {
        "meta": results.meta,
        "servers": results.servers,
        "unavailable": results.unavailable,
        "scenarios": results.scenarios,
        "runs": results.runs,
        "quick": results.quick,
        "median": summary,
        "targets": [
            {
                "figure": row["target"].label,
                "server": row["target"].server,
                "measured": row["figure"],
                "met": row["met"],
            }
            for row in target_rows(results)
        ],
        "cells": results.cells,
    }


def from_json(data: dict[str, Any]) -> Results:
    """Rebuild the results of an earlier run from its .json file."""
    return Results(
        servers=data["servers"],
        scenarios=data["scenarios"],
        runs=data["runs"],
        quick=data["quick"],
        meta=data["meta"],
        unavailable=data["unavailable"],
        cells=data["cells"],
    )


def chart(results: Results, path: Path) -> bool:
    """A PNG of each headline figure relative to Node (>1 means better than Node)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    servers = [s for s in results.measured() if s != BASELINE]
    labels: list[str] = []
    factors: dict[str, list[float]] = {s: [] for s in servers}
    for scenario in SCENARIOS:
        if scenario.name not in results.scenarios:
            continue
        for metric in scenario.metrics:
            if not metric.headline:
                continue
            base = results.median(scenario.name, BASELINE, metric.key)
            if not base:
                continue
            labels.append(f"{scenario.name}\n{metric.label}")
            for server in servers:
                value = results.median(scenario.name, server, metric.key)
                if not value:
                    factors[server].append(float("nan"))
                else:
                    factors[server].append(
                        value / base if metric.higher_is_better else base / value
                    )
    if not labels or not servers:
        return False
    height = 0.8 / len(servers)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) * max(1, len(servers) / 2) + 1.5))
    for i, server in enumerate(servers):
        ys = [y + (i - (len(servers) - 1) / 2) * height for y in range(len(labels))]
        bars = ax.barh(ys, factors[server], height=height, label=LABELS.get(server, server))
        ax.bar_label(bars, labels=[f"{f:.2f}x" for f in factors[server]], fontsize=6, padding=2)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if _in_range(t, factors)]
    ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("x Node socket.io (>1 is better; RSS: Node / value)")
    ax.set_title(f"aiosio benchmarks, {results.meta['date']}, relative to Node socket.io")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _in_range(tick: float, factors: dict[str, list[float]]) -> bool:
    values = [f for fs in factors.values() for f in fs if f == f and f > 0]
    return bool(values) and min(values) / 2 <= tick <= max(values) * 2


def write(results: Results, out_dir: Path, stem: str) -> list[Path]:
    """Write ``stem``.md, .json and .png into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{stem}.png"
    has_chart = chart(results, png)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown(results, png.name if has_chart else None))
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps(to_json(results), indent=1) + "\n")
    return [md, js, *([png] if has_chart else [])]


def replace_section(begin: str, end: str, body: str) -> bool:
    """Put ``body`` between the README's ``begin`` and ``end`` markers (False: no such
    section)."""
    if not README.exists():
        return False
    text = README.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    README.write_text(head + begin + "\n" + body + "\n" + end + tail)
    return True


def update_readme(results: Results, md: Path, png: Path | None) -> bool:
    """Replace the README's results section with this run's summary."""
    rel = md.relative_to(BENCH_DIR)
    parts = [
        f"Latest full run: {machine_line(results.meta)} (median of {results.runs} runs; "
        f"full report: [{rel}]({rel})).",
        "",
    ]
    if note := noise_note(results):
        parts += [note, ""]
    parts += [main_table(results), ""]
    if png is not None:
        parts += [f"![ratios to Node]({png.relative_to(BENCH_DIR)})", ""]
    parts.append(targets_table(results))
    return replace_section(README_BEGIN, README_END, "\n".join(parts))
