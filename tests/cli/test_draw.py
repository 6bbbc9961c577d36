"""mnist-draw's command line: one-line errors before any server starts, and a clean stop."""

import signal
import socket
import sys
import threading
import time

import pytest

from mnist_cnn.cli import draw
from mnist_cnn.cli.draw import main

from conftest import DrawServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def nothing_listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def one_error_line(capsys) -> str:
    """The one error line (notes about the checkpoint, such as rejection being off, may come
    before it)."""
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if not line.startswith("mnist-draw: note:")]
    assert len(lines) == 1 and lines[0].startswith("mnist-draw: error: "), captured.err
    return lines[0]


def test_a_missing_checkpoint_is_one_line_before_any_server(tmp_path, capsys):
    port = free_port()
    assert main(["--checkpoint", str(tmp_path / "none.ckpt"), "--port", str(port)]) == 2
    assert "none.ckpt" in one_error_line(capsys)
    assert nothing_listens(port)


def test_a_bad_checkpoint_is_one_line_before_any_server(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    port = free_port()
    assert main(["--checkpoint", str(bad), "--port", str(port)]) == 1
    assert "bad.ckpt" in one_error_line(capsys)
    assert nothing_listens(port)


def test_a_port_in_use_is_one_line(checkpoint, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--checkpoint", str(checkpoint), "--port", str(port)]) == 1
    line = one_error_line(capsys)
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in line


def test_an_address_of_another_machine_is_one_line(checkpoint, capsys):
    # 192.0.2.1 is reserved for documentation (RFC 5737): no machine has it, no DNS is asked
    assert main(["--checkpoint", str(checkpoint), "--host", "192.0.2.1"]) == 1
    assert "cannot listen on 192.0.2.1:7860: this machine has no such address" in \
        one_error_line(capsys)


def test_without_the_app_extra_it_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if it were not installed
    # ... checked first: the checkpoint is not even looked at
    assert main(["--checkpoint", str(tmp_path / "none.ckpt")]) == 2
    line = one_error_line(capsys)
    assert "pip install 'mnist-cnn[app]'" in line and "'gradio'" in line


def test_the_default_upload_limit_is_the_apps():
    from mnist_cnn import app

    assert draw.build_parser().parse_args([]).max_upload_mb == app.DEFAULT_MAX_UPLOAD_MB


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_bad_port_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--port", port])
    assert exit_.value.code == 2


def test_the_address_printed_is_one_a_browser_can_open():
    with socket.socket() as bound:
        bound.bind(("0.0.0.0", 0))
        assert draw.page_url(bound) == f"http://127.0.0.1:{bound.getsockname()[1]}/"


def test_open_waits_for_the_server_before_opening_the_browser(monkeypatch):
    opened = threading.Event()
    monkeypatch.setattr(draw.webbrowser, "open", lambda url: opened.set())

    class Server:
        started = False

    server = Server()
    draw.open_when_ready(server, "http://127.0.0.1:7860/")
    time.sleep(0.3)
    assert not opened.is_set()
    server.started = True
    assert opened.wait(5)


@pytest.mark.slow
def test_sigterm_stops_the_server_cleanly(checkpoint, tmp_path):
    server = DrawServer(checkpoint, tmp_path / "stderr.txt")
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    assert server.stop(signal.SIGTERM) == 0
    assert "mnist-draw: stopped" in server.log.read_text()
    assert nothing_listens(port)
