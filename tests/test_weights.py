"""Model resolution, download (against a local HTTP server; never the internet) and strict loading."""

import http.server
import shutil
import threading

import pytest
import torch

from engine import progress, weights
from engine.errors import EngineError
from engine.weights import CONFIG_NAME, WEIGHTS_NAME, load_model, resolve_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def server(tiny_model_dir):
    """127.0.0.1 HTTP server over the tiny model dir; counts GETs; /short lies about its length."""
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tiny_model_dir), **kw)

        def do_GET(self):
            hits.append(self.path)
            if self.path == "/short":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                return
            if self.path.startswith("/html/"):  # a portal or proxy answering 200 with a page
                self.send_response(200)
                self.send_header("Content-Length", "32")
                self.end_headers()
                self.wfile.write(b"<html>please sign in</html>     ")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def point(monkeypatch, cfg_url, bin_url, *more):
    """Repoint biggan-deep-128's sources: one (config URL, weights URL) pair, then more pairs as mirrors."""
    pairs = [(cfg_url, bin_url), *more]
    monkeypatch.setitem(weights.SOURCES, "biggan-deep-128", [{CONFIG_NAME: c, WEIGHTS_NAME: b} for c, b in pairs])


def test_reference_urls_first_then_mirrors():
    from pytorch_pretrained_biggan import model as ref

    for name in weights.MODEL_NAMES:
        first = weights.SOURCES[name][0]
        assert first == {CONFIG_NAME: ref.PRETRAINED_CONFIG_ARCHIVE_MAP[name],
                         WEIGHTS_NAME: ref.PRETRAINED_MODEL_ARCHIVE_MAP[name]}
    assert weights.SOURCES["biggan-deep-128"][1][WEIGHTS_NAME].startswith("https://huggingface.co/")


def test_name_downloads_once_then_hits_cache(cache, server, tiny_model_dir, monkeypatch):
    base, hits = server
    point(monkeypatch, f"{base}/{CONFIG_NAME}", f"{base}/{WEIGHTS_NAME}")
    d = resolve_model("biggan-deep-128")
    assert d == cache / "models" / "biggan-deep-128"
    for f in (CONFIG_NAME, WEIGHTS_NAME):
        assert (d / f).read_bytes() == (tiny_model_dir / f).read_bytes()
    assert sorted(p.name for p in d.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME, weights.HASHES_NAME]  # no temp
    assert len(hits) == 2
    assert resolve_model("biggan-deep-128") == d
    assert len(hits) == 2  # cache hit: nothing fetched again
    load_model(d)


@pytest.mark.parametrize("path", ["/missing.bin", "/short"])
def test_failed_download_leaves_no_file_under_final_name(cache, server, monkeypatch, path):
    base, _ = server
    point(monkeypatch, f"{base}/{CONFIG_NAME}", base + path)
    with pytest.raises(EngineError, match="download of biggan-deep-128 pytorch_model.bin failed") as info:
        resolve_model("biggan-deep-128")
    msg = str(info.value)
    assert "\n" not in msg and "--model DIR" in msg
    d = cache / "models" / "biggan-deep-128"
    assert sorted(p.name for p in d.iterdir()) == [CONFIG_NAME]  # complete config kept, no weights, no temp


def test_sources_are_tried_in_order(cache, server, tiny_model_dir, monkeypatch):
    base, hits = server
    point(monkeypatch, f"{base}/gone/{CONFIG_NAME}", f"{base}/gone/{WEIGHTS_NAME}",  # 404
          (f"{base}/html/{CONFIG_NAME}", f"{base}/html/{WEIGHTS_NAME}"),  # 200, but a web page
          (f"{base}/{CONFIG_NAME}", f"{base}/{WEIGHTS_NAME}"))
    d = resolve_model("biggan-deep-128")
    assert (d / WEIGHTS_NAME).read_bytes() == (tiny_model_dir / WEIGHTS_NAME).read_bytes()
    assert hits == [f"/gone/{CONFIG_NAME}", f"/html/{CONFIG_NAME}", f"/{CONFIG_NAME}",
                    f"/gone/{WEIGHTS_NAME}", f"/html/{WEIGHTS_NAME}", f"/{WEIGHTS_NAME}"]
    load_model(d)


def test_offline_is_one_line_with_the_sources_and_leaves_no_folder(cache, monkeypatch):
    # discard port: nothing listens
    point(monkeypatch, "http://127.0.0.1:9/a/config.json", "http://127.0.0.1:9/a/pytorch_model.bin",
          ("http://127.0.0.1:9/b/config.json", "http://127.0.0.1:9/b/pytorch_model.bin"))
    with pytest.raises(EngineError, match=r"offline\? .*--model DIR") as info:
        resolve_model("biggan-deep-128")
    msg = str(info.value)
    assert "\n" not in msg
    for part in ("/a/config.json", "/a/pytorch_model.bin", "/b/config.json", "/b/pytorch_model.bin"):
        assert "http://127.0.0.1:9" + part in msg  # where the files can be found
    assert cache.is_dir() and not (cache / "models" / "biggan-deep-128").exists()  # no empty model folder


def test_download_is_checked_by_sha256_on_every_later_start(cache, server, monkeypatch):
    base, _ = server
    point(monkeypatch, f"{base}/{CONFIG_NAME}", f"{base}/{WEIGHTS_NAME}")
    d = resolve_model("biggan-deep-128")
    assert sorted(p.name for p in d.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME, weights.HASHES_NAME]
    assert resolve_model("biggan-deep-128") == d  # unchanged: accepted
    data = bytearray((d / WEIGHTS_NAME).read_bytes())
    data[-1] ^= 1  # one bit, same size
    (d / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(EngineError, match=f"{WEIGHTS_NAME} is not the file that was downloaded.*delete the "
                                          f"folder") as info:
        resolve_model("biggan-deep-128")
    assert "\n" not in str(info.value)


def test_download_progress_without_a_terminal(cache, server, monkeypatch):
    base, _ = server
    point(monkeypatch, f"{base}/{CONFIG_NAME}", f"{base}/{WEIGHTS_NAME}")
    lines = []
    monkeypatch.setattr(progress, "sink", lines.append)
    monkeypatch.setattr(weights, "DOWNLOAD_TICK_S", 0.0)
    resolve_model("biggan-deep-128")  # pytest's captured stderr is not a terminal
    assert any(line.startswith(f"engine: downloading biggan-deep-128 {WEIGHTS_NAME} of ") for line in lines)
    assert any(" MB of " in line for line in lines[1:])


def test_file_url_download(cache, tiny_model_dir, monkeypatch):
    point(monkeypatch, (tiny_model_dir / CONFIG_NAME).as_uri(), (tiny_model_dir / WEIGHTS_NAME).as_uri())
    d = resolve_model("biggan-deep-128")
    assert (d / WEIGHTS_NAME).stat().st_size == (tiny_model_dir / WEIGHTS_NAME).stat().st_size


def copy_model(src, dst, state=None):
    dst.mkdir()
    shutil.copy(src / CONFIG_NAME, dst / CONFIG_NAME)
    if state is None:
        shutil.copy(src / WEIGHTS_NAME, dst / WEIGHTS_NAME)
    else:
        torch.save(state, dst / WEIGHTS_NAME)
    return dst


@pytest.mark.parametrize("missing", [WEIGHTS_NAME, CONFIG_NAME])
def test_directory_missing_a_file(tiny_model_dir, tmp_path, missing):
    d = copy_model(tiny_model_dir, tmp_path / "m")
    (d / missing).unlink()
    with pytest.raises(EngineError, match=f"has no {missing}"):
        resolve_model(str(d))
    with pytest.raises(EngineError, match=f"has no {missing}"):
        load_model(d)


def test_unknown_model_spec(tmp_path):
    with pytest.raises(EngineError, match="unknown model .*biggan-deep-256"):
        resolve_model(str(tmp_path / "nope"))


def test_local_directory_resolves_and_loads(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == tiny_model_dir
    config, state = load_model(tiny_model_dir)
    assert config["channel_width"] == 8 and config["output_dim"] == 128
    assert "generator.conv_to_rgb.weight_orig" in state


def test_strict_loading_rejects_missing_renamed_and_misshapen(tiny_model_dir, tmp_path):
    _, state = load_model(tiny_model_dir)

    missing = dict(state)
    del missing["generator.layers.3.bn_2.running_vars"]
    with pytest.raises(EngineError, match=r"missing keys generator\.layers\.3\.bn_2\.running_vars"):
        load_model(copy_model(tiny_model_dir, tmp_path / "a", missing))

    renamed = dict(state)
    renamed["generator.gen_z.weight"] = renamed.pop("generator.gen_z.weight_orig")
    with pytest.raises(EngineError, match=r"missing keys generator\.gen_z\.weight_orig.*unexpected keys "
                                          r"generator\.gen_z\.weight\b"):
        load_model(copy_model(tiny_model_dir, tmp_path / "b", renamed))

    misshapen = dict(state)
    misshapen["embeddings.weight"] = torch.zeros(128, 999)
    with pytest.raises(EngineError, match=r"shape mismatch embeddings\.weight"):
        load_model(copy_model(tiny_model_dir, tmp_path / "c", misshapen))


def test_corrupt_weights_file(tiny_model_dir, tmp_path):
    d = copy_model(tiny_model_dir, tmp_path / "m")
    (d / WEIGHTS_NAME).write_bytes((tiny_model_dir / WEIGHTS_NAME).read_bytes()[:1000])
    with pytest.raises(EngineError, match="corrupt"):
        load_model(d)
