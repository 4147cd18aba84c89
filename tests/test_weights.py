"""Model resolution, download (against a local HTTP server; never the internet) and strict loading."""

import http.server
import shutil
import threading

import pytest
import torch

from engine import weights
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
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def point(monkeypatch, cfg_url, bin_url):
    monkeypatch.setitem(weights.URLS, "biggan-deep-128", {CONFIG_NAME: cfg_url, WEIGHTS_NAME: bin_url})


def test_name_downloads_once_then_hits_cache(cache, server, tiny_model_dir, monkeypatch):
    base, hits = server
    point(monkeypatch, f"{base}/{CONFIG_NAME}", f"{base}/{WEIGHTS_NAME}")
    d = resolve_model("biggan-deep-128")
    assert d == cache / "models" / "biggan-deep-128"
    for f in (CONFIG_NAME, WEIGHTS_NAME):
        assert (d / f).read_bytes() == (tiny_model_dir / f).read_bytes()
    assert sorted(p.name for p in d.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]  # no temp files left
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


def test_offline_is_one_line_with_the_way_out(cache, monkeypatch):
    point(monkeypatch, "http://127.0.0.1:9/config.json", "http://127.0.0.1:9/pytorch_model.bin")  # discard port
    with pytest.raises(EngineError, match=r"offline\? .*--model DIR"):
        resolve_model("biggan-deep-128")
    assert not any((cache / "models" / "biggan-deep-128").iterdir())


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
