"""Render songs to mp4s: the trajectory first, then segments, then one join.

For each song, decoding + features + walker give one (z, c, t) per video frame (live.walk.trajectory); the
frames are cut into segments (live.export.workdir) that an executor renders into a work folder in the user
cache, this machine's engine (live.export.local) or Ray actors (live.export.cluster) alike; the segments
are joined without re-encoding and the audio is muxed once (live.export.mux). The mp4 and --save-latents appear
only complete; an interrupted export leaves its finished segments in the cache and a rerun reuses them. Two
exports of one song at once each render in a work folder of their own (live.export.workdir).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

from core.errors import LiveError, warn
from core.files import atomic_output, check_output, fsync_file, writing
from engine.stylegan import is_pickle
from engine.stylegan.space import latent_dims, style_space
from live.audio import decode
from live.config import WalkerParams
from live.recordings import latents as latents_file
from live.export.mux import write_mp4
from live.export.workdir import WorkDir, plan, work_key
from live.analysis.sources import check_stem_names
from live.walk.modulation import Matrix
from live.walk.steering import Steering, schedule_events
from live.walk.trajectory import Latents, frame_trajectory

MP4_SUFFIXES = (".mp4", ".m4v")  # both name MP4 files
MP4_HINT = "live writes MP4 (H.264 + AAC): name the output .mp4"
STEM_TOLERANCE_S = 0.1  # a stem may differ this much from the song's length (encoder padding)


@dataclass(frozen=True)
class ExportJob:
    audio: str
    output: str
    params: WalkerParams
    classes: Sequence[int]
    seed: int = 0
    fps: float = 30.0
    start: float = 0.0
    duration: Optional[float] = None
    save_latents: Optional[str] = None
    schedule: object = None  # LRC lyrics: changes() -> [(song time, class ids)]
    source: object = None  # replay (live.recordings.replay.ReplaySource): its recorded audio and events
    model: Optional[str] = None  # --model NAME|DIR: a folder's files are inputs no output may replace
    matrix: Matrix = Matrix()  # the preset's modulation
    stems: tuple = ()  # --stem: (name, path) pairs, each as long as the song
    directions: object = None  # the model's latent directions (engine.directions) when the matrix uses them


class Prepared(NamedTuple):
    info: decode.AudioInfo
    duration: float  # seconds of video
    frames: int
    stems: tuple = ()  # the --stem files' AudioInfo, in the job's order


def frame_count(info_duration: float, start: float, duration: Optional[float], fps: float) -> tuple[float, int]:
    if start >= info_duration:
        raise LiveError(f"--start {start:g} s is past the end of the audio ({info_duration:.1f} s)")
    dur = info_duration - start if duration is None else min(duration, info_duration - start)
    n = int(round(dur * fps))
    if n < 1:
        raise LiveError(f"nothing to render: {dur:.3f} s at {fps:g} fps is less than one frame")
    return dur, n


def check_paths(output: str, save_latents: Optional[str], audio: str, model: Optional[str],
                recording: Optional[str] = None) -> None:
    """-o and --save-latents: new or regular files with the right suffix, none of the inputs."""
    inputs = [("the input audio", audio), ("a file of the --model folder", model),
              ("a file of the --replay recording", recording)]
    check_output(output, "-o", MP4_SUFFIXES, MP4_HINT, inputs)
    if save_latents:
        check_output(save_latents, "--save-latents", (".npz",), "latents are NumPy files: name it .npz",
                     inputs + [("the output video", output)])


def prepare(job: ExportJob) -> Prepared:
    """Everything a user can get wrong, checked before the (slow) model load."""
    check_paths(job.output, job.save_latents, job.audio, job.model,
                str(job.source.rec.dir) if job.source is not None else None)
    check_stem_names([name for name, _ in job.stems])
    info = decode.probe(job.audio)
    stems = tuple(decode.probe(path) for _, path in job.stems)
    for (name, path), stem in zip(job.stems, stems):
        if abs(stem.duration_s - info.duration_s) > STEM_TOLERANCE_S:
            raise LiveError(f"--stem {name}={path}: {stem.duration_s:.2f} s long, the song {info.duration_s:.2f} s "
                            "— a stem must be as long as the song (export the stems from the same session)")
    dur, n_frames = frame_count(info.duration_s, job.start, job.duration, job.fps)
    return Prepared(info, dur, n_frames, stems)


def trajectory(job: ExportJob, prep: Prepared) -> Latents:
    """One (z, c, t) per video frame: exactly what every executor renders."""
    if job.source is not None:  # a recording: its audio at its rate, its events at their samples
        blocks, push = job.source.analysis_blocks(), job.source.push
    else:  # lyric lines are class events at their samples, as in live mode and replay
        steer = Steering(decode.ANALYSIS_SR, job.params, job.classes, job.seed, dims=latent_dims(job.model),
                         matrix=job.matrix, stems=tuple(name for name, _ in job.stems), directions=job.directions)
        events = schedule_events(job.schedule, decode.ANALYSIS_SR)
        blocks = (mono for mono, _ in decode.blocks(prep.info, planar=False))
        if job.stems:
            blocks = decode.with_stems(blocks, [(m for m, _ in decode.blocks(stem, planar=False))
                                                for stem in prep.stems])
        push = lambda mono: steer.feed(mono, events)  # noqa: E731
    return frame_trajectory(blocks, push, job.start, job.fps, prep.frames, job.audio)


class Part(NamedTuple):
    """One song's work for an executor: its trajectory, the segments still to render, where they go."""
    lat: Latents
    segments: list
    work: WorkDir
    fps: float


def export(jobs: Sequence[ExportJob], preps: Sequence[Prepared], executor, progress: bool = True) -> list[dict]:
    """Render every job with `executor` (one progress bar over all their frames); figures per song.

    Every song's trajectory comes first (cheap), then the executor renders all missing segments (a cluster
    keeps every worker busy across songs) and each song is joined as soon as its segments are done."""
    bar = _progress_bar(sum(p.frames for p in preps), progress)
    parts, plans, works, figures = [], [], [], {}
    try:
        for job, prep in zip(jobs, preps):
            t0 = time.perf_counter()
            lat = trajectory(job, prep)
            segments = plan(prep.frames, job.fps, executor.batch)
            work = WorkDir(work_key(lat, {**executor.key_fields(), "fps": job.fps}))
            works.append(work)  # released below whatever happens
            if not work.claimed_first:
                warn(f"{job.audio}: another export of this song is running: rendering it on its own")
            todo = work.missing(segments)
            if len(todo) < len(segments):
                warn(f"{job.audio}: reusing {len(segments) - len(todo)} of {len(segments)} segments rendered "
                     "by an earlier run")
                bar.update(prep.frames - sum(s.hi - s.lo for s in todo))
            parts.append(Part(lat, todo, work, job.fps))
            plans.append((segments, time.perf_counter() - t0))

        def finished(i: int) -> None:  # song i's segments are all in its work folder
            job, prep, (segments, t_traj) = jobs[i], preps[i], plans[i]
            t0 = time.perf_counter()
            _commit(job, prep, parts[i], segments)
            figures[i] = {"output": job.output, "frames": prep.frames, "duration_s": prep.duration,
                          "segments": len(segments), "reused": len(segments) - len(parts[i].segments),
                          "driver_s": t_traj + time.perf_counter() - t0}

        executor.render(parts, bar.update, finished)
    finally:
        bar.close()
        for work in works:  # an interrupted song's segments stay for a rerun
            work.release()
    return [figures[i] for i in range(len(jobs))]


def _commit(job: ExportJob, prep: Prepared, part: Part, segments: list) -> None:
    """Join the song's segments and audio into its mp4 (and --save-latents), then drop its work folder."""
    with writing(job.output, "-o"), atomic_output(job.output) as tmp:
        write_mp4(tmp, [part.work.segment(s) for s in segments], prep.info, job.start, prep.duration)
        fsync_file(tmp)  # the video is on disk before the latents are committed
        with writing(job.save_latents, "--save-latents"):
            # replay: its step log, whole once the rest is analysed; else one row per frame
            lat = job.source.finish() if job.source is not None else part.lat
            if job.save_latents:
                latents_file.save(job.save_latents, lat, synthesis_inputs(job.model, lat))
    part.work.remove()


def synthesis_inputs(model, lat: Latents) -> dict | None:
    """A StyleGAN model's synthesis inputs per row (ws, and for StyleGAN3 transform when the walk used a pose), for
    --save-latents."""
    if not is_pickle(model):
        return None
    arrays = dict(zip(("ws", "transform"), style_space(model).synthesis_inputs(lat.z, lat.c, lat.t, lat.xform)))
    if not lat.posed():
        arrays.pop("transform", None)  # the identity: NVIDIA's synthesis network's own default
    return arrays


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
