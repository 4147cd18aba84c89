#!/usr/bin/env python3
"""What the web control page costs in live mode: displayed fps and audio->photon latency without and with
`--web` and two pages open with the preview on, and how long a change made on one page takes to show on the
other.

Each variant runs `python -m live` for --seconds on a paced virtual microphone (tests/vmic.py), a full-width
random 128 px model (as tools/bench_rig.py) and the SDL dummy window. The "web" variant adds `--web` and two
WebSocket clients that take everything a page takes (the state and every preview JPEG); one moves the
truncation slider twice a second, the other times how long until its state shows the new value. Variants are
interleaved (A B A B ...) and `uptime`'s load is recorded beside every run. One command:
  python tools/bench_web.py --seconds 30 --repeats 2 --json web.json
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from engine.cpu import cpu_name  # noqa: E402

VARIANTS = ("base", "web")


def load() -> float:
    return os.getloadavg()[0]


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
            while not self.stop.is_set():
                value = 0.7 if value == 0.5 else 0.5
                sent[value] = time.perf_counter()
                await a.send_str(json.dumps(dict(type="param", name="truncation", value=value)))
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


def run_variant(vm, model: Path, name: str, seconds: float, out: Path, backend: str) -> dict:
    port = free_port()
    extra = ["--web", f"127.0.0.1:{port}"] if name == "web" else []
    pages = Pages(port) if name == "web" else None
    if pages is not None:
        pages.start()
    stats = out / f"stats-{name}-{time.monotonic_ns()}.json"
    load_before = load()
    r = subprocess.run([sys.executable, "-m", "live", "-d", "pulse", "--model", str(model), "--backend", backend,
                        "--duration", str(seconds), "--stats", str(stats), "--seed", "1", *extra],
                       env=vm.env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 600)
    if pages is not None:
        pages.stop.set()
        pages.join(10)
    if r.returncode != 0:
        raise SystemExit(f"{name}: live failed:\n{r.stderr[-2000:]}")
    s = json.loads(stats.read_text())
    echo = sorted(pages.echo_ms) if pages else []
    return dict(variant=name, load_before=round(load_before, 2), load_after=round(load(), 2),
                fps_rendered=s["fps_rendered"], fps_displayed=s["fps_displayed"], images_per_s=s["images_per_s"],
                latency_ms_p50=s["latency_ms_p50"], latency_ms_p95=s["latency_ms_p95"],
                preview_frames=pages.frames if pages else None,
                echo_ms_p50=round(echo[len(echo) // 2], 1) if echo else None,
                echo_ms_max=round(echo[-1], 1) if echo else None, echoes=len(echo), backend=s["backend"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=2, help="A/B pairs (interleaved)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", type=Path, help="write the table here")
    args = ap.parse_args(argv)

    from core.cache import cache_dir
    from engine.testmodel import make_random_model
    from tests import vmic

    why = vmic.missing()
    if why:
        raise SystemExit(f"bench_web needs the virtual microphone: {why}")
    model = Path(cache_dir("bench-models")) / "biggan-deep-128-ch128"
    if not (model / "config.json").exists():
        make_random_model(model, 128, 128, 0)
    result = dict(cpu=cpu_name(), cores=os.cpu_count(), runs=[])
    print(f"{result['cpu']}, {result['cores']} cores", flush=True)
    keys = ("variant", "load_before", "load_after", "fps_rendered", "fps_displayed", "latency_ms_p50",
            "latency_ms_p95", "preview_frames", "echo_ms_p50", "echo_ms_max", "echoes")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with vmic.VirtualMic(tmp / "vm") as vm:
            vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
            vm.play(vmic.write_music(tmp / "music.wav", (args.seconds + 60) * 2 * args.repeats + 120))
            run_variant(vm, model, "base", min(10.0, args.seconds), tmp, args.backend)  # warm the engine cache
            for _ in range(args.repeats):
                for name in VARIANTS:
                    row = run_variant(vm, model, name, args.seconds, tmp, args.backend)
                    result["runs"].append(row)
                    print(json.dumps({k: row[k] for k in keys}), flush=True)
    summary = {}
    for name in VARIANTS:
        rows = [r for r in result["runs"] if r["variant"] == name]
        summary[name] = {k: statistics.median(r[k] for r in rows)
                         for k in ("fps_displayed", "fps_rendered", "latency_ms_p50", "latency_ms_p95", "load_before")}
    result["summary"] = summary
    b, w = summary["base"], summary["web"]
    print(f"median base: {b}\nmedian web:  {w}\n--web with two pages costs "
          f"{100 * (1 - w['fps_displayed'] / b['fps_displayed']):.1f}% of displayed fps and "
          f"{w['latency_ms_p95'] - b['latency_ms_p95']:+.1f} ms of p95 latency")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
