#!/usr/bin/env python3
"""What the web control page costs in live mode: displayed fps and audio->photon latency without and with
`--web` and two pages open with the preview on, and how long a change made on one page takes to show on the
other.

Each variant runs `python -m live` for --seconds on a paced virtual microphone (tests/vmic.py), a full-width
random 128 px model (as tools/bench_rig.py) and the SDL dummy window. The "web" variant adds `--web` and two
WebSocket clients that take everything a page takes (the state and every preview JPEG); one moves the
truncation slider twice a second, the other times how long until its state shows the new value (the
echo). First, micro(): the web control alone in this process, its CPU time. Variants are
interleaved (A B A B ...) and `uptime`'s load is recorded beside every run. One command:
  python tools/bench_web.py --seconds 30 --repeats 2 --json web.json
"""

import asyncio
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from engine.cpu import cpu_name  # noqa: E402
from tools.bench_rig import bench_args, interleaved, load, run_live  # noqa: E402

VARIANTS = ("base", "web")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pages(threading.Thread):
    """Two pages: both take the state and the preview; page 0 moves a slider, page 1 times its echo."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.url, self.stop = f"http://127.0.0.1:{port}/ws", threading.Event()
        self.frames, self.echo_ms = [0, 0], []

    def run(self):
        asyncio.run(self._main())

    async def _main(self):
        import aiohttp

        async with aiohttp.ClientSession() as s:
            while not self.stop.is_set():
                try:
                    a, b = await s.ws_connect(self.url), await s.ws_connect(self.url)
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)  # live is still loading the model
            else:
                return
            sent: dict[float, float] = {}
            readers = [asyncio.ensure_future(self._read(ws, i, sent)) for i, ws in enumerate((a, b))]
            value = 0.5
            while not self.stop.is_set() and not a.closed:  # (closed: the set is over)
                value = 0.7 if value == 0.5 else 0.5
                sent[value] = time.perf_counter()
                try:
                    await a.send_str(json.dumps(dict(type="param", name="truncation", value=value)))
                except aiohttp.ClientError:
                    break
                await asyncio.sleep(0.5)
            for r in readers:
                r.cancel()
            await a.close()
            await b.close()

    async def _read(self, ws, i: int, sent: dict):
        import aiohttp

        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.frames[i] += 1
            elif i == 1 and msg.type == aiohttp.WSMsgType.TEXT:
                t = json.loads(msg.data)["params"]["truncation"]
                if t in sent:
                    self.echo_ms.append((time.perf_counter() - sent.pop(t)) * 1000)


def thread_cpu_s(names) -> float:
    """CPU seconds (user + system) the threads of this process with these names have used."""
    total = 0
    for t in threading.enumerate():
        if t.name in names and t.native_id:
            fields = Path(f"/proc/self/task/{t.native_id}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def micro(seconds: float = 10.0) -> dict:
    """The web control in this process with two pages (preview on), fed as the live loop feeds it: a 128 px
    frame at 60 Hz and the state at 10 Hz (live sends it on a change and every 0.5 s: less). CPU of its threads as a share of one core (CPU time, so a busy
    machine slows it but does not inflate it) and the main thread's CPU per call."""
    import numpy as np

    from live.control.dispatch import Inbox
    from live.control.web.server import WebControl

    web = WebControl("127.0.0.1:0", Inbox()).start()
    pages = Pages(web.port)
    pages.start()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(8)]
    state = dict(params=dict(truncation=1.0, jitter=0.5), preset="default", frozen=False, seed=1,
                 classes=[dict(id=i, name=f"class {i}") for i in range(12)],
                 hud=dict(render_fps=30.0, display_fps=60.0, latency_ms=40.0, level=0.5, backend="torch"))
    while pages.frames[1] == 0 and pages.is_alive():  # both pages connected and served
        web.offer(frames[0].copy())
        time.sleep(0.05)
    cpu0, offer_s, publish_s, n = thread_cpu_s(("web", "web-preview")), 0.0, 0.0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.thread_time()
        web.offer(frames[n % 8])
        offer_s += time.thread_time() - t
        if n % 6 == 0:
            state["hud"]["render_fps"] = n % 7
            t = time.thread_time()
            web.publish(state)
            publish_s += time.thread_time() - t
        n += 1
        time.sleep(1 / 60)
    cpu = thread_cpu_s(("web", "web-preview")) - cpu0
    pages.stop.set()
    pages.join(5)
    web.close()
    return dict(web_threads_core_pct=round(100 * cpu / seconds, 2), offer_us=round(1e6 * offer_s / n, 2),
                publish_us=round(1e6 * publish_s / (n // 6 + 1), 1), preview_frames=list(pages.frames))


def run_variant(vm, model: Path, name: str, seconds: float, out: Path, backend: str) -> dict:
    port = free_port()
    extra = ["--web", f"127.0.0.1:{port}"] if name == "web" else []
    pages = Pages(port) if name == "web" else None
    if pages is not None:
        pages.start()
    load_before = load()
    try:
        s = run_live(vm, model, name, seconds, out, backend, extra)
    finally:
        if pages is not None:
            pages.stop.set()
            pages.join(10)
    echo = sorted(pages.echo_ms) if pages else []
    return dict(variant=name, load_before=round(load_before, 2), load_after=round(load(), 2),
                fps_rendered=s["fps_rendered"], fps_displayed=s["fps_displayed"], images_per_s=s["images_per_s"],
                latency_ms_p50=s["latency_ms_p50"], latency_ms_p95=s["latency_ms_p95"],
                preview_frames=pages.frames if pages else None,
                echo_ms_p50=round(echo[len(echo) // 2], 1) if echo else None,
                echo_ms_max=round(echo[-1], 1) if echo else None, echoes=len(echo), backend=s["backend"])


def main(argv=None) -> int:
    args = bench_args(argv, __doc__)
    result = dict(cpu=cpu_name(), cores=os.cpu_count(), load_before=round(load(), 2), micro=micro(), runs=[])
    print(f"{result['cpu']}, {result['cores']} cores, load {result['load_before']}; in process: {result['micro']}",
          flush=True)
    summary = interleaved(args, VARIANTS, run_variant,
                          ("variant", "load_before", "load_after", "fps_rendered", "fps_displayed", "latency_ms_p50",
                           "latency_ms_p95", "preview_frames", "echo_ms_p50", "echo_ms_max", "echoes"),
                          ("fps_displayed", "fps_rendered", "latency_ms_p50", "latency_ms_p95", "load_before"), result)
    b, w = summary["base"], summary["web"]
    print(f"median base: {b}\nmedian web:  {w}\n--web with two pages costs "
          f"{100 * (1 - w['fps_displayed'] / b['fps_displayed']):.1f}% of displayed fps and "
          f"{w['latency_ms_p95'] - b['latency_ms_p95']:+.1f} ms of p95 latency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
