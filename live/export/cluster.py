"""Render segments on a Ray cluster (`live --export ... --ray [auto|local|ADDRESS]`; imported only then).

Actors, one per GPU (or one per --worker-cpus CPUs where there is none), each load the engine once and render
whole segments with the same code as this machine (live.export.local), returning each segment's mp4 bytes;
the driver writes them into the work folder. A worker that dies is restarted by Ray, loads the engine again
and renders its segment from scratch (Ray's actor restarts and task retries). Ray sets OMP_NUM_THREADS to an
actor's CPUs, and the engine uses no more threads than that (engine.cpu).
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Callable

from core import signals
from core.errors import LiveError, first_line
from live.export.local import DEFAULT_MODEL, LocalExecutor, guard_key, model_id, write_segment
from live.export.workdir import Segment
from live.walk.trajectory import Latents


class _TempWork:
    """A one-segment work folder in a temp dir (what LocalExecutor writes into, inside an actor)."""

    def __init__(self, folder: str):
        self.path = Path(folder)

    def segment(self, seg: Segment) -> Path:
        return self.path / f"seg-{seg.index:05d}.mp4"


class SegmentRenderer:
    """A Ray actor: one engine, many segments."""

    def __init__(self, model: str, backend: str, precision: str, device: str, batch: int, guard: bool = False):
        from engine.backends import create_engine

        engine = create_engine(model, backend=backend, precision=precision, max_batch=batch, device=device)
        self.local = LocalExecutor(engine, batch, model, guard)

    def describe(self) -> tuple[str, int]:
        return self.local.name, self.local.resolution

    def render(self, index: int, lat: Latents, fps: float, offset: int = 0, total: int | None = None) -> bytes:
        """A segment's rows of the song's latents, frames offset.. of a song of total frames (for the flash guard:
        where the segment lies)."""
        seg = Segment(index, 0, len(lat.z))  # named as in the work folder (its temp file too)
        with tempfile.TemporaryDirectory(prefix="live-segment-") as d:
            work = _TempWork(d)
            self.local.render_segments(lat, [seg], work, fps, lambda n: None, offset, total)
            return work.segment(seg).read_bytes()


AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
PROBE_S = 10.0  # to wait for a head node's port to answer before calling it unreachable


def _ray(address: str):
    """Ray, imported for `--ray address`. `local` gets a token of its own in the environment (Ray's
    RAY_AUTH_TOKEN, inherited by the instance's processes) unless the user set Ray's auth variables: Ray would
    otherwise write ~/.ray/auth_token. Ray reads them when it is imported."""
    if address == "local" and not any(v in os.environ for v in AUTH_VARS):
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    try:
        import ray
    except ImportError:
        raise LiveError("--ray needs Ray: pip install -e '.[cluster]' (or pip install 'ray[default]')") from None
    return ray


class RayExecutor:
    def __init__(self, opts, engine_opts, batch: int, guard: bool = False):
        ray = self.ray = _ray(opts.address)
        self.batch, self.model, self.guard = int(batch), engine_opts.model or DEFAULT_MODEL, guard
        self._started = not ray.is_initialized()
        try:
            if self._started:
                _connect(ray, opts.address)
            resources = ray.cluster_resources()
            gpus = int(resources.get("GPU", 0))
            per = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": opts.cpus_per_worker}
            n = opts.workers or (gpus or max(1, int(resources.get("CPU", 1)) // opts.cpus_per_worker))
            actor = ray.remote(max_restarts=-1, max_task_retries=-1)(SegmentRenderer)
            self.actors = [actor.options(**per).remote(self.model, engine_opts.backend, engine_opts.precision,
                                                       engine_opts.device, self.batch, guard) for _ in range(n)]
            described = ray.get([a.describe.remote() for a in self.actors])  # engines load here: fail fast
        except ray.exceptions.RayError as e:  # an engine that cannot load on a worker: a RayTaskError
            self.close()
            raise LiveError(f"the Ray workers could not start the engine ({first_line(_cause(e))})") from None
        except BaseException:
            self.close()
            raise
        self.name = f"{described[0][0]} on {n} Ray worker{'s' if n > 1 else ''}"
        self.engine_name, self.resolution = described[0]

    def key_fields(self) -> dict:
        return {"model": model_id(self.model), "engine": self.engine_name, "resolution": self.resolution,
                "batch": self.batch, **guard_key(self.guard)}

    def render(self, parts: list, advance: Callable[[int], None], finished: Callable[[int], None]) -> None:
        """Every actor renders one segment at a time, whichever song it belongs to; the driver writes each as
        it comes back and calls finished(i) as soon as song i's are all there."""
        ray, running = self.ray, {}
        todo = [(i, seg) for i, part in enumerate(parts) for seg in part.segments][::-1]
        left = [len(part.segments) for part in parts]
        for i, n in enumerate(left):
            if n == 0:  # all reused from an earlier run
                finished(i)
        free = list(self.actors)
        while todo or running:
            while todo and free:
                (i, seg), actor = todo.pop(), free.pop()
                lat = parts[i].lat
                ref = actor.render.remote(seg.index, lat.rows(seg.lo, seg.hi), parts[i].fps, seg.lo, len(lat.z))
                running[ref] = (i, seg, actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)  # a signal is seen within 1 s
            if not ready:
                continue
            [done] = ready
            i, seg, actor = running.pop(done)
            try:
                data = ray.get(done)
            except ray.exceptions.RayError as e:  # the segment's task failed where retries do not help
                raise LiveError(f"segment {seg.index} failed on a Ray worker ({first_line(_cause(e))})") from None
            write_segment(parts[i].work, seg, data)
            advance(seg.hi - seg.lo)
            free.append(actor)
            left[i] -= 1
            if left[i] == 0:
                finished(i)

    def close(self) -> None:
        """Stop the work: a driver that disconnects takes its actors with it (Ray kills an actor whose owner
        is gone, without the retry a ray.kill mid-task sets off); else kill them."""
        if self._started:
            self.ray.shutdown()
            return
        for a in getattr(self, "actors", []):
            self.ray.kill(a)


def _connect(ray, address: str) -> None:
    """auto: a running cluster (RAY_ADDRESS or one started on this machine), else a new one here;
    local: a new one here; anything else: that head node, whose port must answer within PROBE_S (Ray itself
    would retry for minutes, a warning every 5 s). Ray's SIGTERM handlers (a Python one that exits 15, a C++
    one that dumps a stack and aborts) are replaced by ours again: a signal stops the export like Ctrl-C."""
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR", configure_logging=True)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, *signals.SIGNALS)}
    try:
        if address == "local":
            _start_here(ray, quiet)
        elif address == "auto":
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                _start_here(ray, quiet)
        else:
            _probe(address)
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as e:  # what ray.init raises
        raise LiveError(f"--ray {address}: cannot reach a Ray cluster ({first_line(e)}): start one with "
                        "`ray start --head`, or use --ray local") from None
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)


def _probe(address: str) -> None:
    """Raise ConnectionError unless something accepts a TCP connection at HOST:PORT (ray://HOST:PORT too)
    within PROBE_S; an address without a port is left to Ray."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {host}:{port}: {e.strerror or 'timed out'}") from None


def _start_here(ray, quiet: dict) -> None:
    """A new Ray instance on this machine, on the loopback address only: it serves this export alone, so it
    listens on no network interface (Ray otherwise binds its node's reachable IP)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's switch for a loopback-only node
    try:
        ray.init(**quiet)
    except Exception as e:
        if type(e) is not Exception:
            raise
        raise RuntimeError(first_line(e)) from None  # Ray's own "node timed out during startup" is a bare Exception


def _cause(e: BaseException) -> BaseException:
    """The worker's own exception inside Ray's wrapper (RayTaskError/RayActorError), where there is one."""
    return getattr(e, "cause", None) or e
