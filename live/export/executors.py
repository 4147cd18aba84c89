"""Which executor renders an export's segments: Ray actors with --ray (live.export.cluster), else this
machine's engine (live.export.local). Ray is imported only with --ray.
"""
from __future__ import annotations

from live.export.local import DEFAULT_MODEL, LocalExecutor, model_id


def make_executor(opts, engine_opts):
    """The executor for a live.options.ExportOptions: Ray actors with --ray, else this machine's engine."""
    if opts.cluster is not None:
        from live.export.cluster import RayExecutor
        return RayExecutor(opts.cluster, engine_opts, opts.batch, opts.flash_guard)
    from engine.backends import create_engine

    model = engine_opts.model or DEFAULT_MODEL
    engine = create_engine(model, backend=engine_opts.backend, precision=engine_opts.precision,
                           max_batch=opts.batch, device=engine_opts.device)
    return LocalExecutor(engine, opts.batch, model_id(model), opts.flash_guard)
