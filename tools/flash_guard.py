#!/usr/bin/env python3
"""Make any clip safe for a public screen: live's flash guard (live.show.flashguard: at most three general or red
flashes a second, WCAG 2.3.1) on every frame of a video, e.g. a third-party loop before a VJ plays it.

  python tools/flash_guard.py IN.mp4 -o OUT.mp4

The video is re-encoded (H.264, yuv420p, x264 CRF 18 unless --crf) at the input's size and timing; frames the
guard leaves alone are its input's pixels, re-encoded. The audio stream is copied as it is (AAC, MP3, Opus,
AC-3, FLAC, ALAC), other audio is encoded to AAC. OUT appears only complete (a temp file, then a rename); the
input is never replaced. A bad path or an unreadable input is one line and exit 2.
"""

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import av  # noqa: E402

from core.errors import LiveError, first_line  # noqa: E402
from core.files import atomic_output, check_output, writing  # noqa: E402
from live.show.flashguard import FlashGuard  # noqa: E402

COPY_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "flac", "alac"}  # what an mp4 holds as it comes


def guard_clip(src: str, dst, crf: str = "18") -> dict:
    """Write src's video through the flash guard (and its audio) to dst (an mp4); returns figures."""
    try:
        inp = av.open(src)
    except (av.error.FFmpegError, OSError) as e:
        raise LiveError(f"{src}: cannot read it as a video ({first_line(e)})") from None
    with inp, av.open(str(dst), "w", format="mp4") as out:
        if not inp.streams.video:
            raise LiveError(f"{src} has no video stream: give a video file")
        vin = inp.streams.video[0]
        w, h = vin.codec_context.width, vin.codec_context.height
        if w % 2 or h % 2:
            raise LiveError(f"{src} is {w}x{h}: H.264 in yuv420p needs an even width and height")
        rate = vin.average_rate or Fraction(30)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "fast"}
        ain = inp.streams.audio[0] if inp.streams.audio else None
        aout, copy, last = None, False, -1
        if ain is not None:
            copy = ain.codec_context.name in COPY_AUDIO
            aout = out.add_stream_from_template(ain) if copy else out.add_stream("aac", rate=ain.rate)
        guard, n, t0, first = FlashGuard(), 0, time.perf_counter(), None
        try:
            for packet in inp.demux(*[s for s in (vin, ain) if s is not None]):
                if packet.stream is vin:
                    for frame in packet.decode():
                        t = frame.time if frame.time is not None else n / rate
                        first = t if first is None else first
                        rgb = frame.to_ndarray(format="rgb24")
                        shown = guard.apply(rgb, float(t))
                        o = av.VideoFrame.from_ndarray(shown, format="rgb24")
                        o.pts = last = max(last + 1, int(round((t - first) * rate)))  # the output's frame grid
                        out.mux(vout.encode(o))
                        n += 1
                elif copy:
                    if packet.dts is not None:
                        packet.stream = aout
                        out.mux(packet)
                else:
                    for frame in packet.decode():
                        frame.pts = None
                        out.mux(aout.encode(frame))
        except av.error.FFmpegError as e:
            raise LiveError(f"{src}: cannot decode it ({first_line(e)})") from None
        out.mux(vout.encode(None))
        if aout is not None and not copy:
            out.mux(aout.encode(None))
    if n == 0:
        raise LiveError(f"{src} has no video frames")
    return dict(frames=n, softened=guard.limited, seconds=time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="a video (any format FFmpeg reads)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="the guarded video (mp4)")
    p.add_argument("--crf", type=int, default=18, help="x264 quality, lower is better (default 18)")
    args = p.parse_args(argv)
    try:
        if not Path(args.input).is_file():
            raise LiveError(f"{args.input}: no such file")
        check_output(args.output, "-o", (".mp4", ".m4v"), "the guarded video is an mp4: name it .mp4",
                     [("the input video", args.input)])
        with writing(args.output, "-o"), atomic_output(args.output) as tmp:
            figures = guard_clip(args.input, tmp, str(args.crf))
    except LiveError as e:
        print(f"flash_guard: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flash_guard: interrupted; no output written", file=sys.stderr)
        return 130
    print(f"wrote {args.output}: {figures['frames']} frames, {figures['softened']} softened by the flash guard "
          f"({1000 * figures['seconds'] / figures['frames']:.1f} ms/frame)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
