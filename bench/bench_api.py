"""Prediction API latency and throughput, side by side with the floor and with MLflow's server.

Builds a plant's platform in a temporary folder (simulated exports → lake →
ETL into a temporary PostgreSQL warehouse, so several API workers can share it
→ a GRU champion exported to ONNX), then measures on 127.0.0.1, in one run:

- floor: the same vehicles scored in-process, (a) the bare ONNX Runtime
  session on prebuilt inputs and (b) ``LoadedModel.score`` on the vehicles'
  mart rows (feature building + ONNX Runtime);
- ours: ``roadtest serve --workers 2``, POST /v1/predictions one vehicle per
  request (reads its marts, scores, stores the prediction), driven by wrk at
  low concurrency (latency) and higher concurrency (throughput); and POST
  /v1/predictions/batch for vehicles/s;
- peer: the same model wrapped as an MLflow pyfunc that reads the marts as ours does
  and scores them the same way, served by ``mlflow models serve --workers 2``,
  driven by the same wrk runs; our numbers are given as ratios to it;
- load: a few minutes of ours under wrk, with the error count and the
  resident memory of the server processes sampled along the way.

Needs wrk (``apt-get install wrk``) and PostgreSQL's initdb/pg_ctl.

    python bench/bench_api.py [--vehicles 2000] [--duration 20] [--load-seconds 180]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow.pyfunc
import numpy as np
import pandas as pd
import psutil
from mlflow.pyfunc import PythonModel

from roadtest.config import Settings
from roadtest.etl.jobs import run_etl
from roadtest.features import build_sequences
from roadtest.lake import Lake, ingest_paths
from roadtest.models.onnx_scorer import OnnxScorer
from roadtest.models.recurrent import RecurrentConfig
from roadtest.serving.marts import read_marts
from roadtest.simulate import PlantConfig, simulate_plant, write_exports
from roadtest.training.pipeline import TrainConfig, train
from roadtest.training.registry import Registry, read_model_folder
from roadtest.training.scoring import LoadedModel, load_champion
from roadtest.warehouse import Warehouse, connect

HOST = "127.0.0.1"
SAMPLE = 200
"""Vehicles the requests rotate through."""


# --- the stores ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(args: list[str], cwd: Path) -> None:
    """Run a server command, as the postgres account when we are root (it refuses root)."""
    kwargs: dict[str, Any] = {}
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(cwd)}
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, **kwargs)


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1; yields the URL of its database."""
    initdb = shutil.which("initdb") or next(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    bin_dir = Path(initdb).parent
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    data, port = root / "data", free_port()
    initdb_args = ["-D", str(data), "-U", "bench", "-A", "trust", "-E", "UTF8", "--locale=C"]
    _as_postgres([str(bin_dir / "initdb"), *initdb_args], root)
    options = (
        f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c max_connections=60"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    _as_postgres(
        [pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"], root
    )
    try:
        yield f"postgresql+psycopg://bench@{HOST}:{port}/postgres"
    finally:
        _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], root)
        shutil.rmtree(root, ignore_errors=True)


def build_platform(root: Path, vehicles: int, epochs: int, warehouse_url: str) -> Settings:
    """Simulated exports → lake → ETL → a GRU champion; the settings of that platform."""
    settings = Settings(home=root / "home", warehouse_url=warehouse_url)
    started = time.perf_counter()
    plant = simulate_plant(PlantConfig(vehicles=vehicles, seed=7))
    write_exports(plant, root / "exports", "parquet", root / "truth", seed=0)
    lake, warehouse = Lake.from_settings(settings), Warehouse.from_settings(settings)
    ingest_paths(lake, [root / "exports"])
    run_etl(lake, warehouse)
    config = TrainConfig(recurrent=RecurrentConfig(max_epochs=epochs))
    result = train(warehouse, Registry.from_settings(settings), ["gru"], config)
    warehouse.dispose()
    print(
        f"platform: {vehicles} vehicles, champion version {result.registered_version} "
        f"({result.best_model}), built in {time.perf_counter() - started:.0f} s"
    )
    return settings


# --- the floor ----------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Per-call latencies in seconds."""

    seconds: np.ndarray

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.seconds, q)) * 1000

    @property
    def per_second(self) -> float:
        return float(self.seconds.size / self.seconds.sum())

    def line(self, label: str) -> str:
        return (
            f"{label:<44} p50 {self.percentile(50):7.2f} ms   p99 {self.percentile(99):7.2f} ms"
            f"   {self.per_second:9.0f} /s"
        )


def time_calls(calls: Sequence[Any], repeat: int = 3) -> Timing:
    samples = []
    for _ in range(repeat):
        for call in calls:
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    return Timing(np.array(samples))


def measure_floor(settings: Settings, knrs: list[str]) -> tuple[Timing, Timing]:
    """(bare ONNX Runtime session, LoadedModel.score on mart rows), one vehicle per call."""
    model = load_champion(settings)
    registry = Registry.from_settings(settings)
    with tempfile.TemporaryDirectory() as tmp:
        stored = read_model_folder(registry.download_version(model.version, Path(tmp)))
    scorer = OnnxScorer(stored.model_bytes)
    warehouse = Warehouse.from_settings(settings)
    features, events = warehouse.read_features(knrs), warehouse.read_events(knrs)
    warehouse.dispose()
    per_vehicle = [
        (features.filter(features["knr"] == k), events.filter(events["knr"] == k)) for k in knrs
    ]
    inputs = [
        build_sequences(e, f, model.feature_spec.sequence, [k])
        for (f, e), k in zip(per_vehicle, knrs, strict=True)
    ]
    onnx = time_calls([lambda x=x: scorer.predict(x) for x in inputs])
    score = time_calls([lambda f=f, e=e: model.score(f, e) for f, e in per_vehicle])
    return onnx, score


# --- servers and load -----------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    p50_ms: float
    p99_ms: float
    requests_per_s: float
    requests: int
    status_errors: int
    """Answers other than 2xx/3xx."""
    socket_errors: int
    """Connect, read and write errors and timeouts."""

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors

    def line(self, label: str, per_request: int = 1) -> str:
        rate = self.requests_per_s * per_request
        unit = "vehicles/s" if per_request > 1 else "req/s"
        return (
            f"{label:<44} p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms"
            f"   {rate:9.0f} {unit}   errors {self.errors}"
            + (
                f" ({self.status_errors} non-2xx, {self.socket_errors} socket/timeout)"
                if self.errors
                else ""
            )
        )


LUA = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "%s", nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"p50":%%d,"p99":%%d,"requests":%%d,"duration":%%d,"status":%%d,"socket":%%d}\\n',
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def write_script(path: Path, request_path: str, bodies: list[str]) -> Path:
    """A wrk script posting ``bodies`` in turn to ``request_path``."""
    path.write_text(LUA % (",".join(f"[==[{body}]==]" for body in bodies), request_path))
    return path


def parse_wrk(stdout: str) -> WrkResult:
    """The numbers the script's ``done`` printed."""
    data = json.loads(next(x for x in stdout.splitlines() if x.startswith("WRK "))[4:])
    return WrkResult(
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        requests_per_s=data["requests"] / (data["duration"] / 1e6),
        requests=data["requests"],
        status_errors=data["status"],
        socket_errors=data["socket"],
    )


def run_wrk(
    url: str, path: str, bodies: list[str], seconds: int, connections: int, folder: Path
) -> WrkResult:
    """POST the bodies in turn for ``seconds`` with ``connections`` open connections."""
    script = write_script(folder / f"wrk_{len(bodies)}_{connections}.lua", path, bodies)
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", "10s", "-s", str(script), url]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(completed.stdout)


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], ready_url: str, log: Path
) -> Iterator[psutil.Process]:
    """Start a server, wait until ``ready_url`` answers 200, stop it (by pid) at the end."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(ready_url, timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{' '.join(command)} did not become ready")
        time.sleep(0.5)
    try:
        yield psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def tree_rss_mb(process: psutil.Process) -> float:
    """Resident memory of a server and its worker processes."""
    members = [process, *process.children(recursive=True)]
    total = 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total / 2**20


class KnrModel(PythonModel):
    """The champion as an MLflow pyfunc: KNRs in, probabilities out, marts read like ours."""

    def load_context(self, context: Any) -> None:
        from roadtest.training.scoring import loaded_from_stored

        folder = Path(context.artifacts["model"])
        self.model: LoadedModel = loaded_from_stored("peer", read_model_folder(folder))
        self.warehouse = connect(os.environ["ROADTEST_WAREHOUSE_URL"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        knrs = [str(k) for k in model_input["knr"]]
        with self.warehouse.transaction() as tx:
            features, events = read_marts(tx, knrs)
        p_fail, _ = self.model.score(features, events)
        return pd.DataFrame({"knr": features["knr"].to_list(), "probability": p_fail})


def save_peer_model(settings: Settings, folder: Path) -> Path:
    """The champion's folder wrapped as an MLflow pyfunc model at ``folder / 'peer'``."""
    registry = Registry.from_settings(settings)
    champion = registry.get_champion()
    assert champion is not None
    model_folder = registry.download_version(champion.version, folder / "champion")
    path = folder / "peer"
    mlflow.pyfunc.save_model(
        str(path), python_model=KnrModel(), artifacts={"model": str(model_folder)}
    )
    return path


# --- the run --------------------------------------------------------------------------


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of a server over the bench's platform (the venv's bin first on PATH:
    ``mlflow models serve`` starts ``uvicorn`` by name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADTEST_")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {
        **env,
        "PATH": path,
        "ROADTEST_HOME": str(settings.home),
        "ROADTEST_WAREHOUSE_URL": settings.resolved_warehouse_url(),
        "ROADTEST_API_MAX_BATCH_VEHICLES": "5000",
    }


@dataclass(frozen=True)
class Target:
    """A server to drive: how to start it, where to post, how to wrap KNRs in a body."""

    name: str
    command: list[str]
    ready_path: str
    single_path: str
    batch_path: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def ours(workers: int) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "roadtest", "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning"]
    return Target("ours", command, "/v1/ready", "/v1/predictions", "/v1/predictions/batch", port)


def peer(model_path: Path, workers: int) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_path)]
    command += ["--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers)]
    return Target("mlflow", command, "/health", "/invocations", "/invocations", port)


def bodies(target: Target, knrs: list[str], batch: list[str]) -> tuple[list[str], list[str]]:
    """(one body per vehicle, one batch body) in the target's format."""
    if target.name == "ours":
        single = [json.dumps({"knr": k}) for k in knrs]
        return single, [json.dumps({"vehicles": [{"knr": k} for k in batch]})]
    single = [json.dumps({"dataframe_records": [{"knr": k}]}) for k in knrs]
    return single, [json.dumps({"dataframe_records": [{"knr": k} for k in batch]})]


def drive(
    target: Target, env: dict[str, str], knrs: list[str], batch: list[str], args: Any, root: Path
) -> dict[str, WrkResult]:
    """The three wrk runs against one server: low and high concurrency, and batches."""
    single, batched = bodies(target, knrs, batch)
    ready = f"{target.url}{target.ready_path}"
    with running(target.command, env, ready, root / f"{target.name}.log"):
        low = run_wrk(target.url, target.single_path, single, args.duration, args.workers, root)
        high = run_wrk(target.url, target.single_path, single, args.duration, 8, root)
        many = run_wrk(target.url, target.batch_path, batched, args.duration, args.workers, root)
    return {"low": low, "high": high, "batch": many}


def load_run(
    target: Target, env: dict[str, str], knrs: list[str], seconds: int, root: Path
) -> tuple[WrkResult, list[tuple[float, float]]]:
    """wrk for ``seconds`` at 4 connections, sampling the servers' memory every 5 s."""
    single, _ = bodies(target, knrs, [])
    memory: list[tuple[float, float]] = []
    with running(
        target.command, env, f"{target.url}{target.ready_path}", root / "load.log"
    ) as server:
        script = write_script(root / "load.lua", target.single_path, single)
        process = subprocess.Popen(
            [
                "wrk",
                "-t2",
                "-c4",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                target.url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        start = time.monotonic()
        while process.poll() is None:
            memory.append((time.monotonic() - start, tree_rss_mb(server)))
            time.sleep(5)
        out, _ = process.communicate()
        memory.append((time.monotonic() - start, tree_rss_mb(server)))
    result = parse_wrk(out)
    if result.status_errors:
        lines = (root / "load.log").read_text().splitlines()
        failed = [line for line in lines if re.search(r'"status": ?5\d\d', line)]
        print(f"  server log, last of {len(failed)} 5xx answers:", *failed[-3:], sep="\n    ")
    return result, memory


def ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as a ratio, or n/a."""
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def report(
    floor: tuple[Timing, Timing],
    results: dict[str, dict[str, WrkResult]],
    args: Any,
) -> None:
    onnx, score = floor
    ours_r, peer_r = results["ours"], results["mlflow"]
    w = args.workers
    print(f"\nover HTTP on {HOST}, {w} workers each, wrk {args.duration} s per line:")
    print(ours_r["low"].line(f"ours   POST /v1/predictions, {w} conn"))
    print(peer_r["low"].line(f"mlflow POST /invocations,   {w} conn"))
    print(ours_r["high"].line("ours   POST /v1/predictions, 8 conn"))
    print(peer_r["high"].line("mlflow POST /invocations,   8 conn"))
    print(ours_r["batch"].line(f"ours   batch of {args.batch}, {w} conn", args.batch))
    print(peer_r["batch"].line(f"mlflow batch of {args.batch}, {w} conn", args.batch))
    rows = [
        ("ours p50 / floor p50 (LoadedModel.score)", ours_r["low"].p50_ms, score.percentile(50)),
        ("ours p50 / floor p50 (ONNX session)", ours_r["low"].p50_ms, onnx.percentile(50)),
        (f"ours / mlflow p50 latency, {w} conn", ours_r["low"].p50_ms, peer_r["low"].p50_ms),
        (f"ours / mlflow p99 latency, {w} conn", ours_r["low"].p99_ms, peer_r["low"].p99_ms),
        (
            "ours / mlflow requests/s, 8 conn",
            ours_r["high"].requests_per_s,
            peer_r["high"].requests_per_s,
        ),
        (
            "ours / mlflow batch vehicles/s",
            ours_r["batch"].requests_per_s,
            peer_r["batch"].requests_per_s,
        ),
    ]
    print("\nratios:")
    for label, mine, theirs in rows:
        print(f"  {label:<44} {ratio(mine, theirs)}")
    vehicles_per_s = ours_r["batch"].requests_per_s * args.batch
    print(
        f"  targets: p99 <= 25 ms at {w} workers -> {ours_r['low'].p99_ms:.1f} ms; "
        f"batch >= 2000 vehicles/s -> {vehicles_per_s:.0f}"
    )


def report_load(result: WrkResult, memory: list[tuple[float, float]], seconds: int) -> None:
    print(f"\nload: ours, 4 connections, {seconds} s")
    print(result.line("ours   POST /v1/predictions, 4 conn"))
    late = [(t, m) for t, m in memory if t >= seconds / 2]
    times, sizes = [t for t, _ in late], [m for _, m in late]
    slope = np.polyfit(times, sizes, 1)[0] * 60 if len(late) > 2 else float("nan")
    rss = [m for _, m in memory]
    print(
        f"  requests {result.requests}, errors {result.errors}; server RSS MB: first {rss[0]:.0f}, "
        f"max {max(rss):.0f}, last {rss[-1]:.0f}; second-half slope {slope:+.2f} MB/min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3, help="GRU epochs of the champion.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="Seconds per wrk run.")
    parser.add_argument("--batch", type=int, default=500, help="Vehicles per batch request.")
    parser.add_argument("--load-seconds", type=int, default=180)
    parser.add_argument("--warehouse-url", help="A PostgreSQL warehouse the bench may fill.")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        url = args.warehouse_url or stack.enter_context(temporary_postgres())
        settings = build_platform(root, args.vehicles, args.epochs, url)
        warehouse = Warehouse.from_settings(settings)
        knrs = warehouse.read_table("mart_vehicle_features", columns=["knr"])["knr"].to_list()
        warehouse.dispose()
        sample = knrs[:: max(1, len(knrs) // SAMPLE)][:SAMPLE]
        batch = knrs[: args.batch]

        floor = measure_floor(settings, sample)
        print(f"\nfloor, in-process, one vehicle per call ({len(sample)} vehicles x 3):")
        print(floor[0].line("ONNX Runtime session on prebuilt inputs"))
        print(floor[1].line("LoadedModel.score on mart rows"))

        env = server_env(settings)
        results = {"ours": drive(ours(args.workers), env, sample, batch, args, root)}
        peer_model = save_peer_model(settings, root)
        results["mlflow"] = drive(peer(peer_model, args.workers), env, sample, batch, args, root)
        report(floor, results, args)
        load, memory = load_run(ours(args.workers), env, sample, args.load_seconds, root)
        report_load(load, memory, args.load_seconds)


if __name__ == "__main__":
    main()
