"""Shared helpers for the benchmarks: machine description, timing, peak RSS in a child
process, and appending a result section to bench/RESULTS.md."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pg = "psql not found"
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, "
            f"Python {platform.python_version()}, {pg}; load average at start {load[0]:.2f}")


@contextmanager
def timer():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def _child(function, args, queue):
    started = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - started
    queue.put((result, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def in_child(function: Callable, *args):
    """Run ``function(*args)`` in a fresh process; return (result, seconds, peak RSS bytes)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def publish(title: str, body: str, *, record: bool) -> None:
    """Print the machine and the results; with ``record``, append them to RESULTS.md under
    ``title`` with the command line this run was started with."""
    print(machine())
    print(body)
    if record:
        append_results(title, shlex.join(["python", *sys.argv]), body)


def append_results(title: str, command: str, body: str) -> None:
    """Add a dated section to bench/RESULTS.md (newest last)."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    section = f"\n## {title} ({stamp})\n\nMachine: {machine()}\n\nCommand: `{command}`\n\n{body.strip()}\n"
    existing = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(existing.rstrip() + "\n" + section, encoding="utf-8")


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: str, env: dict, *, workers: int = 1, log_path: Path | None = None, factory: bool | None = None,
          port: int | None = None):
    """Run ``uvicorn APP`` on a loopback port (``port``, or a free one) until the block ends;
    yields the base URL once ``/healthz`` answers."""
    import sys
    import urllib.request

    port = port or free_port()
    factory = ("create_app" in app) if factory is None else factory
    log = log_path.open("w") if log_path else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                                "--workers", str(workers), "--log-level", "warning", *(["--factory"] if factory else [])],
                               cwd=Path(__file__).resolve().parents[1], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
                raise RuntimeError(f"{app} exited with status {process.returncode} before answering /healthz\n{tail}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not answer {base}/healthz within 60 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if log_path:
            log.close()
