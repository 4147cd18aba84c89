"""From the export command to its jobs: which input goes to which mp4 (and latents file), with which look.

One input writes -o FILE.mp4 (or OUTDIR/NAME.mp4 when -o is a folder); several write OUTDIR/NAME.mp4 each,
NAME being the input's file name (a recording's folder name) without its suffix. Every job is checked
(prepare) before the model loads.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.errors import LiveError
from live.export.local import DEFAULT_MODEL
from live.export.job import ExportJob, Prepared, check_paths, prepare


def _is_folder(path: str, many: bool) -> bool:
    """A trailing slash names a folder; with several inputs an existing folder needs none. (One input and
    a folder without the slash is refused as an output path: that is not a file to write.)"""
    return path.endswith(("/", os.sep)) or (many and os.path.isdir(path))


def _name(inp: str) -> str:
    return Path(inp.rstrip("/" + os.sep)).stem


def output_paths(inputs: tuple[str, ...], output: str, latents: str | None) -> tuple[list, list[str]]:
    """(mp4, latents or None) for each input, and the folders they go into (to create once the inputs are
    checked)."""
    many = len(inputs) > 1
    out_dir, lat_dir = _is_folder(output, many), bool(latents) and _is_folder(latents, many)
    if many and not out_dir:
        raise LiveError(f"-o {output}: {len(inputs)} inputs need a folder: -o OUTDIR/ (one mp4 each)")
    if many and latents and not lat_dir:
        raise LiveError(f"--save-latents {latents}: {len(inputs)} inputs need a folder: --save-latents DIR/")
    names = [_name(i) for i in inputs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise LiveError(f"two inputs are both named {dup!r}: their mp4s would collide in {output}; "
                        "export them in separate runs")
    out = []
    for name in names:
        mp4 = os.path.join(output, name + ".mp4") if out_dir else output
        npz = (os.path.join(latents, name + ".npz") if lat_dir else latents) if latents else None
        out.append((mp4, npz))
    return out, [folder for folder, is_dir in ((output, out_dir), (latents, lat_dir)) if is_dir]


class OutputFolders:
    """The output folders an export creates (-o OUTDIR/, --save-latents DIR/). undo() removes those still
    empty, so an export refused or failed after creating them leaves no empty folder behind."""

    def __init__(self):
        self.created: list[str] = []

    def make(self, folders: list[str]) -> None:
        for folder in folders:
            missing = []
            path = os.path.abspath(folder)
            while not os.path.isdir(path) and os.path.dirname(path) != path:
                missing.append(path)
                path = os.path.dirname(path)
            for path in reversed(missing):
                try:
                    os.mkdir(path)
                except OSError as e:
                    raise LiveError(f"cannot create the folder {folder} ({e.strerror}): choose another path") from None
                self.created.append(path)

    def undo(self) -> None:
        for path in reversed(self.created):
            try:
                os.rmdir(path)  # only an empty folder: never anything written into it
            except OSError:
                pass


def export_jobs(opts, look_opts, engine_opts, folders: OutputFolders) -> list[tuple[ExportJob, Prepared]]:
    """Checked jobs for a live.options.ExportOptions (+ LookOptions, EngineOptions); output folders are
    made through `folders`."""
    from live.audio import decode
    from live.control.look import start_look

    paths, out_folders = output_paths(opts.inputs, opts.output, opts.save_latents)
    common = [dict(output=mp4, fps=opts.fps, start=opts.start, duration=opts.duration, save_latents=npz,
                   model=engine_opts.model) for mp4, npz in paths]
    if opts.replay:
        from live.recordings.replay import replay_source

        from engine.stylegan.space import latent_dims

        dims = latent_dims(engine_opts.model)  # the walk replays in the rendering model's latent sizes
        sources = [replay_source(inp, look_opts, log_steps=bool(npz), dims=dims)
                   for inp, (_, npz) in zip(opts.replay, paths)]
        folders.make(out_folders)
        if any(src.rec.uses_dirs() for src in sources):
            for src in sources:
                src.steering.set_directions(_directions(engine_opts))
        jobs = [ExportJob(audio=str(src.rec.wav), params=look.params, classes=look.classes, seed=look.seed,
                          source=src, **kw) for src, kw in zip(sources, common) for look in [src.rec.look()]]
    else:
        if look_opts.lyrics is not None and len(opts.audio) > 1:
            raise LiveError("--lyrics belongs to one song: export songs with lyrics one at a time")
        for audio in opts.audio:
            decode.check_input(audio)
        folders.make(out_folders)
        for audio, (mp4, npz) in zip(opts.audio, paths):
            check_paths(mp4, npz, audio, engine_opts.model)  # before the lyrics' text model loads
        look = start_look(look_opts, quiet=opts.quiet)
        directions = _directions(engine_opts) if look.matrix.uses_dirs() else None
        jobs = [ExportJob(audio=audio, params=look.params, classes=look.classes, seed=look.seed,
                          schedule=look.schedule, matrix=look.matrix, stems=opts.stems, directions=directions, **kw)
                for audio, kw in zip(opts.audio, common)]
    return [(job, prepare(job)) for job in jobs]


def _directions(engine_opts):
    """The model's latent directions for the matrix's dir1..dir8 rows (computed once per model, cached)."""
    from engine.directions import latent_directions

    return latent_directions(engine_opts.model or DEFAULT_MODEL)
