"""Draw docs/images/dashboard.png: the panels of deploy/grafana/drawdown.json for a short, real
workload, without Docker or Grafana.

    .venv/bin/python deploy/grafana/picture.py [--seconds 240] [--out docs/images/dashboard.png]

Needs `prometheus` (Debian's package) and `chromium` on PATH. Everything runs on loopback in
a temporary folder: a webhook receiver answering 200 after a few milliseconds; a drawdown
server (`serve --workers 2`, SQLite) with two webhook endpoints, the receiver and a closed
port, usage priced per call with a 20-second grace, fast webhook retries; Prometheus
scraping its /metrics every 2 s. Meanwhile customers with balance alerts buy credits that
expire within two minutes, spend them through the API and through ingested usage (going
below zero fires `credit_balance_depleted` to both endpoints), and are read (a read writes
due expiries). Then every panel's own expressions are asked of Prometheus (`query_range`,
Grafana's `$__rate_interval` as 30s), drawn as SVG in the dashboard's grid, and the page is
screenshot with headless Chromium.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "deploy/grafana/drawdown.json").read_text())
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RATE_INTERVAL = "30s"
STEP_SECONDS = 2
WIDTH, UNIT_HEIGHT = 1800, 30  # Grafana's grid: 24 columns, 30 px per height unit
COLORS = ("#73BF69", "#F2CC0C", "#8AB8FF", "#FF9830", "#F2495C", "#B877D9", "#5794F2")
NAMED = {"delivered": "#73BF69", "failed": "#FF9830", "dead": "#F2495C", "p50": "#73BF69",
         "p95": "#F2CC0C", "p99": "#F2495C"}  # fmt: skip
SERVER_ENV = {
    "DRAWDOWN_USAGE_GRACE_SECONDS": "20",
    "DRAWDOWN_WEBHOOK_POLL_SECONDS": "0.5",
    "DRAWDOWN_WEBHOOK_RETRY_BASE_SECONDS": "2",
    "DRAWDOWN_WEBHOOK_ATTEMPTS_MAX": "4",
    "DRAWDOWN_LOG_LEVEL": "warning",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what runs ----------------------------------------------------------------------------------


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(random.uniform(0.002, 0.03))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "drawdown.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"error: {url} did not answer")


def start(folder: Path) -> tuple[list[subprocess.Popen[bytes]], str, str, str]:
    """The server and Prometheus: (processes, API base URL, API key, Prometheus URL)."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {**os.environ, **SERVER_ENV, "DRAWDOWN_DATABASE_URL": f"sqlite:///{folder}/dd.db"}
    key = cli(env, "keys", "create", "--name", "picture").strip().splitlines()[-1]
    cli(env, "webhooks", "add", f"http://127.0.0.1:{receiver.server_port}/hook", "--secret", SECRET)
    cli(env, "webhooks", "add", f"http://127.0.0.1:{free_port()}/closed", "--secret", SECRET)
    cli(env, "items", "add", "api", "--name", "API calls")
    cli(env, "prices", "add", "--item", "api", "--event-name", "api_call", "--metric", "count",
        "--credits-per-unit", "0.5")  # fmt: skip
    port, prometheus_port = free_port(), free_port()
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "drawdown.cli", "serve", "--port",
                                   str(port), "--workers", "2"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    config = folder / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {STEP_SECONDS}s}}\nscrape_configs:\n"
                      f"  - job_name: drawdown\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{port}']\n")  # fmt: skip
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder}/tsdb",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(f"http://127.0.0.1:{port}/health")
    wait_for(f"http://127.0.0.1:{prometheus_port}/-/ready")
    return (
        [server, prometheus],
        f"http://127.0.0.1:{port}/v1",
        key,
        (f"http://127.0.0.1:{prometheus_port}"),
    )


def workload(api: str, key: str, seconds: float) -> None:
    """Customers buy expiring credits, spend them by API and by usage, and are read."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    customers: list[str] = []
    with httpx.Client(base_url=api, headers=headers, timeout=30) as http:
        deadline, tick = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            if tick % 4 == 0 and len(customers) < 40:
                customers.append(_new_customer(http, len(customers), now))
            for customer_id in random.sample(customers, min(3, len(customers))):
                spend = {"entry_type": "decrement", "amount": random.randint(1, 12)}
                http.post(f"/customers/{customer_id}/credits/ledger_entry", json=spend)
                http.get(f"/customers/{customer_id}/credits")
            events = [{"idempotency_key": f"u{tick}-{n}", "event_name": "api_call",
                       "timestamp": now.isoformat(), "properties": {},
                       "customer_id": random.choice(customers)}
                      for n in range(random.randint(5, 40))]  # fmt: skip
            http.post("/ingest", json={"events": events})
            tick += 1
            time.sleep(1)


def _new_customer(http: httpx.Client, n: int, now: datetime) -> str:
    made = http.post("/customers", json={"name": f"Customer {n}", "email": f"c{n}@example.com"})
    customer_id = str(made.json()["id"])
    for kind in ("credit_balance_depleted", "credit_balance_recovered"):
        http.post(f"/alerts/customer_id/{customer_id}", json={"currency": "credits", "type": kind})
    for _ in range(3):
        expiry = now + timedelta(seconds=random.randint(40, 150))
        http.post(f"/customers/{customer_id}/credits/ledger_entry", json={
            "entry_type": "increment", "amount": random.randint(20, 60),
            "expiry_date": expiry.isoformat()})  # fmt: skip
    return customer_id


# --- what Prometheus says -------------------------------------------------------------------


def series(prometheus: str, expr: str, legend: str, start: float, end: float) -> list[Any]:
    query = expr.replace("$__rate_interval", RATE_INTERVAL)
    answer = httpx.get(f"{prometheus}/api/v1/query_range", params={
        "query": query, "start": start, "end": end, "step": STEP_SECONDS}).json()  # fmt: skip
    assert answer["status"] == "success", (query, answer)
    found = []
    for result in answer["data"]["result"]:
        name = legend
        for label, value in result["metric"].items():
            name = name.replace("{{" + label + "}}", value)
        points = [(float(t), float(v)) for t, v in result["values"]]
        found.append((name, [(t, v) for t, v in points if math.isfinite(v)]))
    return sorted(found)


# --- drawing ------------------------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value == 0:
            return "0"
        if value < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value / 60:.3g} min" if value >= 120 else f"{value:.3g} s"
    text = f"{value / 1000:.3g}k" if value >= 1000 else f"{value:.3g}"
    return text + {"ops": "/s", "reqps": " req/s"}.get(unit, "")


def chart(panel: dict[str, Any], lines: list[Any], start: float, end: float, w: int, h: int) -> str:
    unit = panel["fieldConfig"]["defaults"]["unit"]
    left, top, bottom = 64, 34, 26 + 18 * math.ceil(len(lines) / 3)
    plot_w, plot_h = w - left - 14, max(40, h - top - bottom)
    highest = max([v for _, pts in lines for _, v in pts] + [0])
    top_value = 4 * _nice((highest or 1) / 4)
    parts = [f'<rect width="{w}" height="{h}" rx="3" fill="#181b1f" stroke="#2c3235"/>',
             f'<text x="10" y="21" class="title">{html.escape(panel["title"])}</text>']  # fmt: skip
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" class="tick" '
                     f'text-anchor="end">{fmt(top_value * i / 4, unit)}</text>')  # fmt: skip
    for i in range(5):
        t = start + (end - start) * i / 4
        x = left + plot_w * i / 4
        label = datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")
        anchor = ("start", "middle", "middle", "middle", "end")[i]
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" class="tick" '
                     f'text-anchor="{anchor}">{label}</text>')  # fmt: skip
    for n, (name, points) in enumerate(lines):
        color = NAMED.get(name, COLORS[n % len(COLORS)])
        xy = " ".join(f"{left + plot_w * (t - start) / (end - start):.1f},"
                      f"{top + plot_h - plot_h * min(v, top_value) / top_value:.1f}"
                      for t, v in points)  # fmt: skip
        if points:
            parts.append(f'<polyline points="{xy}" fill="none" stroke="{color}" '
                         f'stroke-width="2"/>')  # fmt: skip
        column = (w - 20) / 3
        lx, ly = 10 + (n % 3) * column, top + plot_h + 34 + 18 * (n // 3)
        shown = (
            name if len(name) * 6.2 < column - 28 else name[: int((column - 28) / 6.2) - 1] + "…"
        )
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="14" height="4" fill="{color}"/>'
                     f'<text x="{lx + 20:.1f}" y="{ly - 3}" class="legend">'
                     f'{html.escape(shown)}</text>')  # fmt: skip
    if not lines:
        parts.append(f'<text x="{w / 2}" y="{top + plot_h / 2}" class="tick" '
                     f'text-anchor="middle">No data</text>')  # fmt: skip
    return (
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _nice(value: float) -> float:
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value)


def page(prometheus: str, start: float, end: float) -> tuple[str, int]:
    cell = WIDTH / 24
    boxes, height = [], 0
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        x, y = grid["x"] * cell, 48 + grid["y"] * UNIT_HEIGHT
        w, h = grid["w"] * cell - 6, grid["h"] * UNIT_HEIGHT - 6
        height = max(height, int(y + h + 12))
        if panel["type"] == "row":
            boxes.append(f'<div class="row" style="left:{x}px;top:{y}px">'
                         f'{html.escape(panel["title"])}</div>')  # fmt: skip
            continue
        lines = [s for t in panel["targets"]
                 for s in series(prometheus, t["expr"], t["legendFormat"], start, end)]  # fmt: skip
        boxes.append(f'<div style="position:absolute;left:{x + 3}px;top:{y}px">'
                     f"{chart(panel, lines, start, end, int(w), int(h))}</div>")  # fmt: skip
    span = (f"{datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S} to "
            f"{datetime.fromtimestamp(end, UTC):%H:%M:%S} UTC")  # fmt: skip
    return (
        f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:#111217; font-family:Inter,Helvetica,Arial,sans-serif; }}
.head {{ position:absolute; left:10px; top:12px; color:#ccccdc; font-size:18px; }}
.head span {{ color:#8e8e9e; font-size:13px; margin-left:14px; }}
.row {{ position:absolute; color:#ccccdc; font-size:15px; font-weight:600; padding:6px 4px; }}
.title {{ fill:#ccccdc; font-size:13px; font-weight:600; }}
.tick {{ fill:#8e8e9e; font-size:11px; }} .legend {{ fill:#ccccdc; font-size:11px; }}
.grid {{ stroke:#2c3235; stroke-width:1; }}
</style></head><body><div class="head">drawdown<span>{span} · every panel of
deploy/grafana/drawdown.json, from Prometheus</span></div>{"".join(boxes)}</body></html>""",
        height,
    )


def screenshot(document: str, height: int, out: Path, folder: Path) -> None:
    page_file = folder / "dashboard.html"
    page_file.write_text(document)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={WIDTH},{height}", f"--screenshot={out}",
                    page_file.as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/dashboard.png")
    options = parser.parse_args()
    for tool in ("prometheus", "chromium"):
        if shutil.which(tool) is None:
            raise SystemExit(f"error: {tool} is not on PATH (apt-get install {tool})")
    folder = Path(tempfile.mkdtemp(prefix="drawdown-picture-"))
    processes, api, key, prometheus = start(folder)
    try:
        begin = time.time()
        workload(api, key, options.seconds)
        time.sleep(3 * STEP_SECONDS)
        document, height = page(prometheus, begin, time.time())
        options.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(document, height, options.out.resolve(), folder)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
