"""The OpenVINO backend's files: the ONNX export, the int8 model, and an IR per static batch size.

All under cache_dir("openvino", <export stem>), one folder per model, each file sealed (engine/sealed.py):
- ir/<stem>-b<N>.xml/.bin: the export (or the int8 model) reshaped to batch N. Compiling from a saved path
  lets OpenVINO's model cache (CACHE_DIR, same folder) import the compiled blob without reading the model.
- int8/<stem>-int8-q<version>.xml/.bin: the NNCF-quantized model, made once (engine/quantize.py).
OpenVINO replaces a blob it cannot import by itself; `repair()` discards our files that are corrupt, so only
those are rebuilt after a failure, and says whether there were any.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from core.cache import cache_dir

from .. import progress, sealed
from ..errors import EngineError
from .base import BIGGAN_INPUTS

log = logging.getLogger(__name__)


def _save_ir(model, xml: Path) -> Path:
    """Save model as xml + bin under their final names atomically (bin first, xml last), both sealed."""
    import openvino as ov

    xml.parent.mkdir(parents=True, exist_ok=True)
    tmp = xml.with_name(f"{xml.stem}.tmp-{os.getpid()}-{threading.get_ident()}.xml")
    try:
        ov.save_model(model, str(tmp), compress_to_fp16=False)  # keep f32 weights: precision is a hint
        os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
        sealed.seal(xml.with_suffix(".bin"))
        os.replace(tmp, xml)  # the .xml appears last, so its presence means both files are whole
        sealed.seal(xml)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
    return xml


class ModelFiles:
    """The files one OpenVINO engine compiles from, built on demand."""

    def __init__(self, core, source, int8: bool = False):
        from ..onnx_export import export_onnx

        self._core, self._source, self._export, self.int8 = core, source, export_onnx, int8
        self.inputs = tuple(getattr(source, "inputs", BIGGAN_INPUTS))
        self.onnx = export_onnx(source)
        self.cache = cache_dir("openvino", self.onnx.stem)  # clearing one model never touches another's

    @property
    def _int8_xml(self) -> Path:
        from ..quantize import QUANT_VERSION

        return self.cache / "int8" / f"{self.onnx.stem}-int8-q{QUANT_VERSION}.xml"

    def _base(self) -> Path:
        """The batch-free model the static IRs are made from: the export, or its int8 version."""
        if not self.int8:
            return self.onnx
        if self.inputs != BIGGAN_INPUTS:
            raise EngineError("int8 is calibrated on BigGAN states only; use --precision bf16 or fp32 for this model")
        xml = self._int8_xml
        if not xml.is_file():
            from ..quantize import quantize

            model = self._core.read_model(str(self.onnx))
            with progress.step("quantizing the generator to int8 with NNCF (once)", silent_s=0):
                _save_ir(quantize(model), xml)
        return xml

    def static_ir(self, batch: int) -> Path:
        xml = self.cache / "ir" / f"{self._base().stem}-b{batch}.xml"
        if not (xml.is_file() and xml.with_suffix(".bin").is_file()):
            base = self._base()
            with progress.step(f"saving the OpenVINO model for batch {batch} (once)"):
                model = self._core.read_model(str(base))
                model.reshape({name: [batch, *tail] for name, tail in self.inputs})
                _save_ir(model, xml)
        return xml

    def _ours(self, batch: int) -> list[Path]:
        files = [self.onnx]
        if self.int8:
            files += [self._int8_xml, self._int8_xml.with_suffix(".bin")]
        xml = self.cache / "ir" / f"{(self._int8_xml if self.int8 else self.onnx).stem}-b{batch}.xml"
        return files + [xml, xml.with_suffix(".bin")]

    def repair(self, batch: int) -> list[str]:
        """Discard our files for `batch` that are not what we wrote; returns their names (empty: all intact)."""
        bad = [p for p in self._ours(batch) if p.exists() and not sealed.intact(p)]
        for path in bad:
            log.warning("cached %s is corrupt or from an older version; rebuilding it", path.name)
            sealed.discard(path)
        if self.onnx in bad:  # its IRs came from a file we no longer trust
            for path in [*self._ours(batch)[1:]]:
                sealed.discard(path)
            self.onnx = self._export(self._source, force=True)
        return [p.name for p in bad]
