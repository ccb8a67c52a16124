"""``python -m nasframe.data`` against a local HTTP server (127.0.0.1, Range
support): correct, corrupt, truncated and resumed downloads; nothing a loader
would trust is ever left behind by a bad download."""
import bz2
import hashlib
import io
import json
import pickle
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nasframe.data import fetch
from nasframe.data.__main__ import main
from nasframe.data.registry import REGISTRY, BenchmarkFile
from nasframe.errors import DataError
from nasframe.spaces.nb201 import NB201Space

SPACE = NB201Space()


class Server:
    """Serves ``files[name]``; ``mode[name]`` in {None, 'truncate', 'html', 'norange'}."""

    def __init__(self):
        self.files, self.mode, self.requests = {}, {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append((name, self.headers.get("Range"), self.headers.get("If-Range")))
                if name not in server.files:
                    self.send_error(404)
                    return
                body, mode = server.files[name], server.mode.get(name)
                if mode == "html":
                    page = b"<!DOCTYPE html><html>quota exceeded</html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                etag = '"' + hashlib.md5(body).hexdigest() + '"'
                start, rng = 0, self.headers.get("Range")
                if rng and mode != "norange" and self.headers.get("If-Range") in (None, etag):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("ETag", etag)
                self.end_headers()
                payload = body[start:]
                if mode == "truncate":  # announce everything, send 40 %, hang up
                    self.wfile.write(payload[: int(len(payload) * 0.4)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def entry(name="test.bin", sha256=None, size=None, extract_to=None):
    return BenchmarkFile(name, "testbench", name, None, "https://example.org/page", size=size, sha256=sha256,
                         extract_to=extract_to)


BODY = bytes(range(256)) * 4096  # 1 MiB


def test_correct_download_is_installed_and_its_checksum_recorded(tmp_path, server):
    server.files["test.bin"] = BODY
    path = fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    assert path == tmp_path / "testbench" / "test.bin" and path.read_bytes() == BODY
    assert not fetch.part_path(path).exists()
    rec = json.loads((tmp_path / fetch.MANIFEST).read_text())["testbench/test.bin"]
    assert rec["sha256"] == hashlib.sha256(BODY).hexdigest() and rec["size"] == len(BODY)
    assert fetch.verify(path, tmp_path, entry(), progress=False).ok is True


def test_known_checksum_mismatch_installs_nothing(tmp_path, server):
    server.files["test.bin"] = BODY
    bad = entry(sha256=hashlib.sha256(b"the official bytes").hexdigest())
    with pytest.raises(DataError, match="corrupt.*does not match the registry checksum"):
        fetch.download(bad, tmp_path, url=server.url("test.bin"), progress=False)
    dest = tmp_path / "testbench" / "test.bin"
    assert not dest.exists() and not fetch.part_path(dest).exists()


def test_size_mismatch_and_web_page_are_rejected(tmp_path, server):
    server.files["test.bin"] = BODY
    with pytest.raises(DataError, match="official file has"):
        fetch.download(entry(size=len(BODY) + 1), tmp_path, url=server.url("test.bin"), progress=False)
    server.mode["test.bin"] = "html"
    with pytest.raises(DataError, match="web page"):
        fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    assert not (tmp_path / "testbench" / "test.bin").exists()


def test_truncated_download_keeps_part_and_resumes(tmp_path, server):
    server.files["test.bin"] = BODY
    server.mode["test.bin"] = "truncate"
    dest = tmp_path / "testbench" / "test.bin"
    with pytest.raises(DataError, match="stopped at .* run the same command again to resume"):
        fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    assert not dest.exists()
    done = fetch.part_path(dest).stat().st_size
    assert 0 < done < len(BODY)
    server.mode["test.bin"] = None
    fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    assert dest.read_bytes() == BODY
    name, rng, if_range = server.requests[-1]
    assert rng == f"bytes={done}-" and if_range  # resumed, guarded by the ETag


def test_resume_restarts_when_the_file_changed_on_the_server(tmp_path, server):
    server.files["test.bin"] = BODY
    server.mode["test.bin"] = "truncate"
    with pytest.raises(DataError):
        fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    new = BODY[::-1]
    server.files["test.bin"], server.mode["test.bin"] = new, None
    path = fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    assert path.read_bytes() == new  # If-Range mismatch -> full 200, no splice of old and new bytes


def test_resume_when_the_server_ignores_range(tmp_path, server):
    server.files["test.bin"] = BODY
    server.mode["test.bin"] = "truncate"
    with pytest.raises(DataError):
        fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False)
    server.mode["test.bin"] = "norange"
    assert fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False).read_bytes() == BODY


def test_leftover_part_of_unknown_origin_is_not_spliced(tmp_path, server):
    server.files["test.bin"] = BODY
    dest = tmp_path / "testbench" / "test.bin"
    dest.parent.mkdir(parents=True)
    fetch.part_path(dest).write_bytes(b"garbage from elsewhere")
    assert fetch.download(entry(), tmp_path, url=server.url("test.bin"), progress=False).read_bytes() == BODY


def test_tar_is_verified_then_unpacked(tmp_path, server):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("pack/000000.pickle.pbz2", b"a"), ("pack/meta.pickle.pbz2", b"b")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    server.files["pack.tar"] = buf.getvalue()
    path = fetch.download(entry("pack.tar", extract_to="pack"), tmp_path, url=server.url("pack.tar"),
                          progress=False)
    assert path == tmp_path / "testbench" / "pack" and (path / "000000.pickle.pbz2").read_bytes() == b"a"


# ---------------------------------------------------------------- command line


def naslib_pickle(values):
    curve = lambda v: [v - 0.01 * (199 - e) for e in range(200)]  # noqa: E731
    return pickle.dumps({str(SPACE[i]): {"cifar10-valid": {"eval_acc1es": curve(v), "train_times": [5.0] * 200}}
                         for i, v in values.items()})


def test_cli_download_verify_convert(tmp_path, server, capsys):
    e = REGISTRY["naslib-nb201-cifar10"]
    server.files[e.filename] = naslib_pickle({6111: 91.5, 0: 70.0})
    root = ["--root", str(tmp_path), "-q"]
    assert main([*root, "download", e.name, "--mirror", server.url("").rstrip("/")]) == 0
    dest = tmp_path / "nasbench201" / e.filename
    assert dest.exists()
    assert main([*root, "verify", e.name]) == 0  # against the checksum recorded on download
    assert "OK" in capsys.readouterr().out
    assert main([*root, "convert", e.name]) == 0
    out = capsys.readouterr().out
    assert "cifar10_val" in out and "2 / 15625" in out
    from nasframe.benchmarks import nb201

    b = nb201.load(SPACE, "cifar10", root=tmp_path)
    assert b.table.column("cifar10_val")[6111] == pytest.approx(91.5)
    assert b.table.column("cifar10_train_time")[0] == pytest.approx(1000.0)

    # the server now hands out different bytes: a forced re-download must fail and keep the good file
    server.files[e.filename] = naslib_pickle({6111: 10.0})
    assert main([*root, "download", e.name, "--force", "--url", server.url(e.filename)]) == 2
    assert "does not match the manifest checksum" in capsys.readouterr().err
    assert nb201.load(SPACE, "cifar10", root=tmp_path).table.column("cifar10_val")[6111] == pytest.approx(91.5)

    # a file changed on disk fails verify
    dest.write_bytes(dest.read_bytes()[:-10])
    assert main([*root, "verify", str(dest)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_cli_verify_unknown_checksum_and_record(tmp_path, capsys):
    f = tmp_path / "nasbench201" / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    f.parent.mkdir()
    f.write_bytes(bz2.compress(pickle.dumps({"meta_archs": [], "arch2infos": {}})))
    root = ["--root", str(tmp_path), "-q"]
    assert main([*root, "verify", "nats-tss"]) == 1  # nothing to compare with
    assert "--record" in capsys.readouterr().out
    assert main([*root, "verify", "nats-tss", "--record"]) == 0
    assert main([*root, "verify", "nats-tss"]) == 0
    assert "manifest" in capsys.readouterr().out


def test_cli_bad_input_exits_non_zero(tmp_path, capsys):
    root = ["--root", str(tmp_path)]
    assert main([*root, "download", "no-such-file"]) == 2
    assert "unknown benchmark file 'no-such-file'" in capsys.readouterr().err
    assert main([*root, "download", "nb201-v1_0", "nb201-v1_1", "--url", "http://127.0.0.1:9/x"]) == 2
    capsys.readouterr()
    assert main([*root, "download", "transnas"]) == 2
    assert "no direct download link; get it from" in capsys.readouterr().err
    assert main([*root, "verify", "nb201-v1_1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*root, "download", "nb201-v1_0", "--url", "http://127.0.0.1:9/unreachable"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    bad = tmp_path / "broken.pickle"
    bad.write_bytes(b"\x80\x04not a pickle")
    assert main([*root, "convert", str(bad)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_list_shows_state(tmp_path, capsys):
    (tmp_path / "nasbench201").mkdir()
    (tmp_path / "nasbench201" / "NAS-Bench-201-v1_1-096897.pth.part").write_bytes(b"x" * 10)
    assert main(["--root", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("nb201-v1_1 "))
    assert "partial (10 B)" in line
    assert all(name in out for name in REGISTRY)
    assert "missing" in next(ln for ln in out.splitlines() if ln.startswith("nb201-v1_0 "))


def nats_arch(i, val, test):
    """One per-architecture file of a NATS-tss archive, reduced to the keys a table needs."""
    def result(sets):
        return {"epochs": 200, "eval_acc1es": {f"{k}@199": v for k, v in sets.items()}, "train_times": None}

    return {"200": {"arch_str": str(SPACE[i]), "dataset_seed": {"cifar10-valid": [777], "cifar10": [777]},
                    "all_results": {("cifar10-valid", 777): result({"x-valid": val, "ori-test": test - 1}),
                                    ("cifar10", 777): result({"ori-test": test})}}}


def test_cli_archive_download_unpack_convert(tmp_path, server, capsys):
    e = REGISTRY["nats-tss-simple"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i, val, test in ((6111, 91.2, 94.4), (0, 81.0, 85.9)):
            data = bz2.compress(pickle.dumps(nats_arch(i, val, test)))
            info = tarfile.TarInfo(f"{e.extract_to}/{i:06d}.pickle.pbz2")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    server.files[e.filename] = buf.getvalue()
    root = ["--root", str(tmp_path), "-q"]
    assert main([*root, "download", e.name, "--url", server.url(e.filename)]) == 0
    folder = tmp_path / "nasbench201" / e.extract_to
    assert sorted(p.name for p in folder.iterdir()) == ["000000.pickle.pbz2", "006111.pickle.pbz2"]
    assert main([*root, "verify", e.name]) == 0  # the archive, against the recorded checksum
    assert main([*root, "convert", e.name]) == 0
    assert "cifar10_test" in capsys.readouterr().out
    from nasframe.benchmarks import nb201

    b = nb201.load(SPACE, "cifar10", path=folder)
    assert b.table.column("cifar10_val")[6111] == pytest.approx(91.2)
    assert b.table.column("cifar10_test")[0] == pytest.approx(85.9)


def test_module_entry_point_exit_status(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "nasframe.data", "--root", str(tmp_path), "verify", "nb201-v1_0"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "download" in run.stderr
