"""The end-to-end harness: Debian's real binaries, on free loopback ports, running the rendered e2e stack.

Starts, each with its own temporary data directory, at the versions of `.ci/tools.lock`:
prometheus (3.5), two prometheus-alertmanager peers (0.33) gossiping on loopback, prometheus-node-exporter,
the Postgres, Redis and blackbox exporters, the simulated fleet and the notification
receiver. Every process is stopped at teardown, also when tests fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from components.builders.alertmanager import alertmanager_args, secret_file_keys
from components.builders.prometheus import prometheus_args
from components.render import render_files, write_files
from components.settings import StackSettings
from components.stackfile import load_stack
from tests import tools
from tests.e2e.fleet import Fleet, MetricsGenerator, Receiver, wait_until

BINARIES = {
    "prometheus": str(tools.binary("prometheus")),
    "alertmanager": str(tools.binary("prometheus-alertmanager")),
    "node-exporter": str(tools.binary("prometheus-node-exporter")),
    "postgres-exporter": str(tools.binary("prometheus-postgres-exporter")),
    "redis-exporter": str(tools.binary("prometheus-redis-exporter")),
    "blackbox-exporter": str(tools.binary("prometheus-blackbox-exporter")),
    "victoria-metrics": str(tools.binary("victoria-metrics")),
}
ROOT = Path(__file__).resolve().parents[2]
# Shannon's services as its own compose file runs them (no Temporal metrics), and stand-ins for Grafana and Tempo.
FLEET = ("orchestrator-0", "orchestrator-1", "gateway-0", "agent-core-0", "llm-service-0", "grafana", "tempo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(self.args, stdout=handle, stderr=subprocess.STDOUT,
                                      env={**os.environ, **self.env}, start_new_session=True)

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


@dataclass
class Stack:
    settings: StackSettings
    work: Path
    ports: dict[str, int]
    fleet: Fleet
    receiver: Receiver
    processes: dict[str, Process] = field(default_factory=dict)
    generator: MetricsGenerator | None = None

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    def alertmanager(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[f'alertmanager-{i}']}"

    def api(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.prometheus}{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, **params: Any) -> list[dict[str, Any]]:
        return self.api("/api/v1/query", query=expr, **params)["result"]

    def alerts(self, state: str | None = None) -> list[dict[str, Any]]:
        alerts = self.api("/api/v1/alerts")["alerts"]
        return [a for a in alerts if state is None or a["state"] == state]

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts("firing") if a["labels"]["alertname"] == alertname]

    def start(self, name: str) -> None:
        self.processes[name].start()

    def stop(self, name: str) -> None:
        self.processes[name].stop()


def missing_binaries() -> list[str]:
    return [b for b in BINARIES.values() if not Path(b).exists()]


StackEdit = Callable[[dict[str, Any], dict[str, int]], None]  # (config mapping, ports) -> None


def write_e2e_stack_file(work: Path, ports: dict[str, int], secrets_dir: Path, receiver: Receiver,
                         production_timing: bool = False, edit: StackEdit | None = None) -> Path:
    """Pulumi.e2e.yaml with its address layout moved to free loopback ports: the only runtime change.

    With `production_timing`, the intervals, `for:` durations, rule windows and route timing
    are those of Pulumi.prod.yaml instead of the e2e stack's shortened ones (the benchmarks).
    """
    data = yaml.safe_load((ROOT / "Pulumi.e2e.yaml").read_text())
    cfg = data["config"]
    p = "shannon-observability:"
    if production_timing:
        prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
        timing = ("scrapeInterval", "scrapeTimeout", "evaluationInterval", "alertResendDelay")
        cfg[p + "prometheus"] = {k: v for k, v in cfg[p + "prometheus"].items() if k not in timing}
        cfg[p + "prometheus"].update({k: v for k, v in prod[p + "prometheus"].items() if k in timing})
        cfg.pop(p + "rules", None)
        cfg[p + "alertmanager"].pop("route", None)
        if "route" in prod[p + "alertmanager"]:
            cfg[p + "alertmanager"]["route"] = prod[p + "alertmanager"]["route"]
    addr = lambda name: f"127.0.0.1:{ports[name]}"  # noqa: E731
    targets = {t["job"]: t for t in cfg[p + "shannon"]["targets"]}
    targets["orchestrator"]["addresses"] = [addr("orchestrator-0"), addr("orchestrator-1")]
    targets["agent-core"]["addresses"] = [addr("agent-core-0")]
    targets["llm-service"]["addresses"] = [addr("llm-service-0")]
    targets["gateway"]["addresses"] = [addr("gateway-0")]
    cfg[p + "addresses"] = {
        "prometheus": [addr("prometheus")],
        "alertmanager": [addr("alertmanager-0"), addr("alertmanager-1")],
        "alertmanager-peers": [addr("alertmanager-peer-0"), addr("alertmanager-peer-1")],
        "grafana": [addr("grafana")],
        "tempo": [addr("tempo")],
        "node-exporter": [addr("node-exporter")],
        "postgres": [addr("postgres-exporter")],
        "redis": [addr("redis-exporter")],
        "blackbox-exporter": [addr("blackbox-exporter")],
    }
    cfg[p + "alertmanager"]["secretsDir"] = str(secrets_dir)
    cfg[p + "alertmanager"]["receivers"]["pager"]["url"] = receiver.url("pagerduty")
    cfg[p + "grafana"]["url"] = f"http://{addr('grafana')}"
    # The paths of Pulumi.e2e.yaml (those a healthy Shannon answers 200 on), on the fleet's ports.
    paths = [t.split("/", 3)[3] for t in cfg[p + "exporters"]["blackbox"]["targets"]]
    hosts = [addr("llm-service-0"), addr("orchestrator-0"), addr("gateway-0")]
    cfg[p + "exporters"]["blackbox"]["targets"] = [f"http://{h}/{path}" for h, path in zip(hosts, paths, strict=True)]
    if edit is not None:
        edit(cfg, ports)
    path = work / "Pulumi.e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _replace(args: list[str], **flags: str) -> list[str]:
    """Swap the value of `--flag=...` arguments (paths and listen addresses) keeping everything else."""
    out = []
    for arg in args:
        name = arg.split("=", 1)[0].lstrip("-").replace(".", "_").replace("-", "_")
        out.append(f"{arg.split('=', 1)[0]}={flags[name]}" if name in flags else arg)
    return out


def build_stack(work: Path, production_timing: bool = False, edit: StackEdit | None = None,
                extra_ports: tuple[str, ...] = ()) -> Stack:
    """The e2e stack's processes, not started. `edit` changes the stack file's config (given the ports,
    including one free port per name in `extra_ports`) before it is rendered."""
    names = [*FLEET, "receiver", "prometheus", "alertmanager-0", "alertmanager-1", "alertmanager-peer-0",
             "alertmanager-peer-1", "node-exporter", "postgres-exporter", "redis-exporter", "blackbox-exporter",
             *extra_ports]
    ports = {name: free_port() for name in names}
    receiver = Receiver(ports["receiver"])
    secrets_dir = work / "alertmanager-secrets"
    secrets_dir.mkdir()
    stack_file = write_e2e_stack_file(work, ports, secrets_dir, receiver, production_timing, edit)
    settings, present = load_stack("e2e", ROOT, stack_file)

    # Exactly the files the render command writes (and `pulumi up` deploys) for this stack file,
    # with the deadman URL set as a secret, as prod sets it. alertmanager.yml names the secret
    # files; the harness writes them with the receiver's URLs, as the program's Secret would.
    render = work / "render"
    write_files(render_files(settings, present | {"deadmanUrl"}), render)
    secrets = {"pagerdutyRoutingKey": "e2e-routing-key-0123456789abcdef", "slackApiUrl": receiver.url("slack"),
               "deadmanUrl": receiver.url("deadman")}
    for key, file_name in secret_file_keys(secrets).items():
        (secrets_dir / file_name).write_text(secrets[key])

    fleet = Fleet({name: ports[name] for name in FLEET})
    stack = Stack(settings, work, ports, fleet, receiver)
    tempo = yaml.safe_load((render / "tempo/tempo.yaml").read_text())["metrics_generator"]
    stack.generator = MetricsGenerator(tempo["storage"]["remote_write"][0]["url"],
                                       tempo["registry"]["external_labels"])
    logs = work / "logs"
    logs.mkdir()

    data = work / "prometheus-data"
    prom_args = _replace(prometheus_args(settings), config_file=str(render / "prometheus/prometheus.yml"),
                         storage_tsdb_path=str(data), web_listen_address=f"127.0.0.1:{ports['prometheus']}")
    # Prometheus 3 expands ${POD_NAME} in external labels by default, as the deployed pods rely on.
    stack.processes["prometheus"] = Process("prometheus", [BINARIES["prometheus"], *prom_args],
                                            logs / "prometheus.log", env={"POD_NAME": "prometheus-0"})
    for i in range(2):
        am_args = _replace(alertmanager_args(settings), config_file=str(render / "alertmanager/alertmanager.yml"),
                           storage_path=str(work / f"alertmanager-{i}"),
                           web_listen_address=f"127.0.0.1:{ports[f'alertmanager-{i}']}",
                           cluster_listen_address=f"127.0.0.1:{ports[f'alertmanager-peer-{i}']}")
        am_args.append(f"--cluster.advertise-address=127.0.0.1:{ports[f'alertmanager-peer-{i}']}")
        if os.environ.get("E2E_DEBUG"):
            am_args.append("--log.level=debug")
        stack.processes[f"alertmanager-{i}"] = Process(f"alertmanager-{i}", [BINARIES["alertmanager"], *am_args],
                                                       logs / f"alertmanager-{i}.log")
    stack.processes["node-exporter"] = Process("node-exporter", [
        BINARIES["node-exporter"], f"--web.listen-address=127.0.0.1:{ports['node-exporter']}",
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run)($|/)"], logs / "node-exporter.log")
    stack.processes["postgres-exporter"] = Process("postgres-exporter", [
        BINARIES["postgres-exporter"], f"--web.listen-address=127.0.0.1:{ports['postgres-exporter']}"],
        logs / "postgres-exporter.log",
        env={"DATA_SOURCE_NAME": "postgresql://exporter@127.0.0.1:1/shannon?sslmode=disable"})
    stack.processes["redis-exporter"] = Process("redis-exporter", [
        BINARIES["redis-exporter"], f"-web.listen-address=127.0.0.1:{ports['redis-exporter']}",
        "-redis.addr=redis://127.0.0.1:1"], logs / "redis-exporter.log")
    stack.processes["blackbox-exporter"] = Process("blackbox-exporter", [
        BINARIES["blackbox-exporter"], f"--config.file={render / 'exporters/blackbox.yml'}",
        f"--web.listen-address=127.0.0.1:{ports['blackbox-exporter']}"], logs / "blackbox-exporter.log")
    return stack


def ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def start_stack(stack: Stack, settle_timeout: float = 60) -> None:
    """Receiver, fleet and exporters, then Prometheus, then Alertmanager.

    The Alertmanagers start once Prometheus has scraped every target: with `for:` scaled to
    seconds, an `absent()` alert can flap while Prometheus applies its first discovered
    targets (it batches discovery updates for up to 5s); its notifications would sit in
    Alertmanager's groups and blur the delivery counts the checks make.
    """
    stack.receiver.start()
    stack.fleet.start()
    for name, process in stack.processes.items():
        if name not in {"prometheus", "alertmanager-0", "alertmanager-1"}:
            process.start()
    wait_until(lambda: ready(f"http://127.0.0.1:{stack.ports['node-exporter']}/metrics"), 30, "node-exporter ready")
    stack.processes["prometheus"].start()
    try:
        wait_until(lambda: ready(f"{stack.prometheus}/-/ready"), 60, "prometheus ready")
    except AssertionError:
        raise AssertionError(f"prometheus did not become ready:\n{stack.processes['prometheus'].tail()}") from None
    if stack.generator is not None:
        stack.generator.start()

    def settled() -> bool:
        targets = stack.api("/api/v1/targets")["activeTargets"]
        alerts = [a for a in stack.alerts() if a["labels"].get("alertname") != "Watchdog"
                  and a["labels"].get("component") in {"orchestrator", "gateway", "agent-core", "llm-service"}]
        return bool(targets) and all(t["health"] == "up" for t in targets if t["labels"]["job"] != "alertmanager") \
            and not alerts

    wait_until(settled, settle_timeout, "every target scraped and no start-up alert left", interval=0.5)
    for i in range(2):
        stack.processes[f"alertmanager-{i}"].start()
    for i in range(2):
        try:
            wait_until(lambda i=i: ready(f"{stack.alertmanager(i)}/-/ready"), 60, f"alertmanager-{i} ready")
        except AssertionError:
            raise AssertionError(f"alertmanager-{i} did not become ready:\n"
                                 f"{stack.processes[f'alertmanager-{i}'].tail()}") from None


def stop_stack(stack: Stack) -> None:
    if stack.generator is not None:
        stack.generator.stop()
    for process in reversed(list(stack.processes.values())):
        process.stop()
    stack.fleet.stop()
    stack.receiver.stop()


