"""Processes the integration tests start and stop: Celery workers and a private Redis.

Kept apart from ``conftest.py`` so the fixtures read as a list of what a test gets,
and so each helper can be read (and fixed) alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float = 0.2,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@dataclass
class WorkerProcess:
    """A ``celery worker`` subprocess with its log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        # Warm shutdown first: the worker acks nothing it has not finished (acks_late).
        _stop_group(self.proc, grace=20)


def start_worker(*, broker_url: str, queue: str, db_name: str, media_root: str,
                 marker_dir: Path, log_dir: Path, name: str,
                 extra_env: dict[str, str] | None = None) -> WorkerProcess:
    """Start the production Celery app (``config.celery``) as a real worker process.

    Prefork with one child, like the documented production command, so ``kill -9`` of
    the child and a crashing child behave as they would in a deployment. Blocks until
    the worker logs that it is ready.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
        "CELERY_BROKER_URL": broker_url,
        "TEGAKI_IT_DB_NAME": db_name,
        "TEGAKI_IT_QUEUE": queue,
        "TEGAKI_IT_MARKER_DIR": str(marker_dir),
        "TEGAKI_TEST_MEDIA": media_root,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    cmd = [
        sys.executable, "-m", "celery", "-A", "config.celery", "worker",
        "--pool=prefork", "--concurrency=1", "-Q", queue,
        "--prefetch-multiplier=1", "--max-tasks-per-child=50",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-n", f"{name}@%h", "--loglevel=INFO",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    worker = WorkerProcess(proc, log_path, name)

    def ready() -> bool:
        if not worker.alive():
            raise RuntimeError(f"celery worker {name} exited at start:\n{worker.log()}")
        return " ready." in worker.log()

    try:
        wait_for(ready, timeout=90, interval=0.25, what=f"celery worker {name} to start")
    except BaseException:
        worker.stop()
        raise
    return worker


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, so stopping it never touches the shared one."""

    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
             "--maxmemory-policy", "noeviction", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def pong() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(pong, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc, grace=10)
            self.proc = None


def drop_queue(broker_url: str, queue: str) -> None:
    """Delete a run's queue and kombu's bookkeeping about it from Redis.

    kombu keeps bindings as sets (``_kombu.binding.<exchange>``), per-queue keys and a
    sorted set of binding deadlines; entries naming this run's unique queue are removed.
    """
    client: Any = redis.Redis.from_url(broker_url, socket_connect_timeout=2)
    needle = queue.encode()
    try:
        for key in [*client.scan_iter(f"*{queue}*"), queue.encode()]:
            client.delete(key)
        for key in client.scan_iter("_kombu.binding*"):
            kind = client.type(key)
            if kind == b"set":
                members = [m for m in client.smembers(key) if needle in m]
                if members:
                    client.srem(key, *members)
            elif kind == b"zset":
                members = [m for m in client.zrange(key, 0, -1) if needle in m]
                if members:
                    client.zrem(key, *members)
    except redis.RedisError:
        pass
    finally:
        client.close()
