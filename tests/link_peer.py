"""A second Ableton Link peer for tests, in its own process: `python -m tests.link_peer BPM SECONDS OUT [BPM2]`.
It holds the session at BPM, and at BPM2 from the moment it gets SIGUSR1 (a tempo change live must follow), and
appends readings "time.monotonic beat peers tempo" to OUT (time.monotonic is one clock for every process on
this machine), so a test can tell where its beats fell."""
import asyncio
import signal
import sys
import time


async def main(bpm: float, seconds: float, out: str, bpm2: float | None = None):
    from aalink import Link

    tempo = [bpm]
    if bpm2 is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, lambda: tempo.__setitem__(0, bpm2))
    link = Link(bpm)
    link.quantum = 4
    link.enabled = True
    t_end = time.monotonic() + seconds
    with open(out, "w") as f:
        while time.monotonic() < t_end:
            if abs(link.tempo - tempo[0]) > 1e-6:
                link.tempo = tempo[0]  # the test's session runs at its tempo whoever joins
            t0 = time.monotonic()
            beat = link.beat
            t1 = time.monotonic()
            f.write(f"{(t0 + t1) / 2:.6f} {beat:.6f} {link.num_peers} {link.tempo:.4f}\n")
            f.flush()
            await asyncio.sleep(0.02)
    link.enabled = False


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], *map(float, sys.argv[4:5])))
