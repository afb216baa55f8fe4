"""The harness leaves nothing behind: a server whose start fails is stopped, and the folder
the harness made for it is removed."""
import pytest

from harness.server import ComfyServer


def test_a_failed_start_stops_the_server_and_removes_its_folder():
    server = ComfyServer()
    assert server.workdir.is_dir()
    with pytest.raises(RuntimeError, match="did not list the DragNeXt nodes within 0s"):
        server.start(timeout=0)   # fails at once, after the process was launched
    assert server.process is not None and server.process.poll() is not None
    assert not server.workdir.exists()


def test_a_given_folder_is_kept(tmp_path):
    server = ComfyServer(workdir=tmp_path / "comfy")
    with pytest.raises(RuntimeError):
        server.start(timeout=0)
    assert server.process.poll() is not None and (tmp_path / "comfy" / "server.log").is_file()
