#!/usr/bin/env python3
"""What the VJ rig costs in live mode: displayed fps and audio->photon latency with and without an NDI output
and Ableton Link, plus the per-frame cost of display-rate blending (the flash guard's: tools/bench_flash_guard.py).

Each variant runs `python -m live` for --seconds on a paced virtual microphone (tests/vmic.py: PulseAudio null
sink), a full-width random 128 px model (tools/make_test_model.py --channel-width 128, cached) and the SDL
dummy window; the "rig" variant adds `--ndi --link` with a second Link peer at 128 BPM and an NDI receiver
pulling the frames, as a mixer would. Variants are interleaved (A B A B ...) and `uptime`'s load is recorded
beside every run, so a busy shared machine shows in the table. One command:
  python tools/bench_rig.py --seconds 30 --repeats 2 --json rig.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402

from engine.cpu import cpu_name  # noqa: E402

VARIANTS = {
    "base": [],
    "rig": ["--ndi", "bench", "--link"],
}


def load() -> float:
    return os.getloadavg()[0]


def micro(repeats: int = 2000) -> dict:
    """Per-frame cost at 128 px of one display-rate blend (the flash guard's: tools/bench_flash_guard.py)."""
    from live.show.flashguard import blend

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(32)]
    t0 = time.perf_counter()
    for i in range(repeats):
        blend(frames[i % 32], frames[(i + 1) % 32], 100)
    return dict(blend_us=round((time.perf_counter() - t0) / repeats * 1e6, 1))


class NdiPull(threading.Thread):
    """An NDI receiver taking every frame of the source, as a mixer would."""

    def __init__(self, name: str):
        super().__init__(daemon=True)
        self.name, self.stop, self.frames = name, threading.Event(), 0

    def run(self):
        from tests.ndi_receiver import NdiReceiver

        with NdiReceiver(self.name) as rx:
            if not rx.connect(120, poll=lambda: None):
                return
            while not self.stop.is_set():
                self.frames += len(rx.collect(lambda: None, count=1, timeout=0.2))


def run_live(vm, model: Path, name: str, seconds: float, out: Path, backend: str, extra: list):
    """One `live` run of `seconds` with these extra flags: its --stats."""
    stats = out / f"stats-{name}-{time.monotonic_ns()}.json"
    r = subprocess.run([sys.executable, "-m", "live", "-d", "pulse", "--model", str(model), "--backend", backend,
                        "--duration", str(seconds), "--stats", str(stats), "--seed", "1", *extra],
                       env=vm.env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 600)
    if r.returncode != 0:
        raise SystemExit(f"{name}: live failed:\n{r.stderr[-2000:]}")
    return json.loads(stats.read_text())


def run_variant(vm, model: Path, name: str, seconds: float, out: Path, backend: str) -> dict:
    extra = VARIANTS[name]
    peer = pull = None
    if "--link" in extra:
        peer = subprocess.Popen([sys.executable, "-m", "tests.link_peer", "128", str(seconds + 120),
                                 str(out / f"peer-{name}.txt")], cwd=ROOT, env=vm.env)
    if "--ndi" in extra:
        pull = NdiPull("bench")
        pull.start()
    load_before = load()
    try:
        s = run_live(vm, model, name, seconds, out, backend, extra)
    finally:
        if pull is not None:
            pull.stop.set()
            pull.join(5)
        if peer is not None:
            peer.terminate()
            peer.wait(10)
    return dict(variant=name, load_before=round(load_before, 2), load_after=round(load(), 2),
                fps_rendered=s["fps_rendered"], fps_displayed=s["fps_displayed"], images_per_s=s["images_per_s"],
                latency_ms_p50=s["latency_ms_p50"], latency_ms_p95=s["latency_ms_p95"],
                added_latency_ms=s["added_latency_ms"], interpolating=s["interpolating"],
                outputs=s["outputs"], link=s["link"], ndi_received=pull.frames if pull else None,
                flash_guard=s["flash_guard"], backend=s["backend"])


def bench_args(argv, doc: str):
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=2, help="A/B pairs (interleaved)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--json", type=Path, help="write the table here")
    return ap.parse_args(argv)


def interleaved(args, variants, run_variant, shown: tuple, medians: tuple, result: dict) -> dict:
    """Runs run_variant(vm, model, name, seconds, tmp, backend) for each variant in turn, args.repeats times, on
    the virtual mic and the full-width 128 px model, after one warm-up run; result["runs"] gets every row (the
    `shown` keys printed as it comes), result["summary"] the median of the `medians` keys per variant."""
    from core.cache import cache_dir
    from engine.testmodel import make_random_model
    from tests import vmic

    why = vmic.missing()
    if why:
        raise SystemExit(f"the benchmark needs the virtual microphone: {why}")
    model = Path(cache_dir("bench-models")) / "biggan-deep-128-ch128"
    if not (model / "config.json").exists():
        make_random_model(model, 128, 128, 0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with vmic.VirtualMic(tmp / "vm") as vm:
            vm.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
            vm.play(vmic.write_music(tmp / "music.wav", (args.seconds + 60) * 2 * args.repeats + 120))
            run_variant(vm, model, variants[0], min(10.0, args.seconds), tmp, args.backend)  # warm the caches
            for _ in range(args.repeats):
                for name in variants:
                    row = run_variant(vm, model, name, args.seconds, tmp, args.backend)
                    result["runs"].append(row)
                    print(json.dumps({k: row[k] for k in shown}), flush=True)
    result["summary"] = {name: {k: statistics.median(r[k] for r in result["runs"] if r["variant"] == name)
                                for k in medians} for name in variants}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result["summary"]


def main(argv=None) -> int:
    args = bench_args(argv, __doc__)
    result = dict(cpu=cpu_name(), cores=os.cpu_count(), micro=micro(), runs=[])
    print(f"{result['cpu']}, {result['cores']} cores; per frame at 128 px: {result['micro']}", flush=True)
    summary = interleaved(args, list(VARIANTS), run_variant,
                          ("variant", "load_before", "load_after", "fps_rendered", "fps_displayed", "images_per_s",
                           "latency_ms_p50", "latency_ms_p95", "added_latency_ms", "ndi_received"),
                          ("fps_displayed", "images_per_s", "latency_ms_p50", "latency_ms_p95", "load_before"), result)
    b, r = summary["base"], summary["rig"]
    print(f"median base: {b}\nmedian rig:  {r}\nrig costs {100 * (1 - r['fps_displayed'] / b['fps_displayed']):.1f}% "
          f"of displayed fps and {r['latency_ms_p95'] - b['latency_ms_p95']:+.1f} ms of p95 latency")
    return 0


if __name__ == "__main__":
    sys.exit(main())
