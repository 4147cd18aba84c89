"""A second Ableton Link peer for tests, in its own process: `python -m tests.link_peer BPM SECONDS OUT`.
It holds the session at BPM and appends readings "time.monotonic beat" to OUT (time.monotonic is one clock
for every process on this machine), so a test can tell where its beats fell."""
import asyncio
import sys
import time


async def main(bpm: float, seconds: float, out: str):
    from aalink import Link

    link = Link(bpm)
    link.quantum = 4
    link.enabled = True
    t_end = time.monotonic() + seconds
    with open(out, "w") as f:
        while time.monotonic() < t_end:
            if abs(link.tempo - bpm) > 1e-6:
                link.tempo = bpm  # the test's session runs at BPM whoever joins
            t0 = time.monotonic()
            beat = link.beat
            t1 = time.monotonic()
            f.write(f"{(t0 + t1) / 2:.6f} {beat:.6f} {link.num_peers}\n")
            f.flush()
            await asyncio.sleep(0.05)
    link.enabled = False


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
