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


def test_a_host_up_without_the_pack_fails_at_once_with_its_log(tmp_path):
    # The host listens only after loading its custom nodes, so an answer without ours means the
    # pack failed to import: no point waiting out the timeout. A stand-in host answers as
    # ComfyUI does for an unknown node ({}), its log saying why.
    import http.server
    import subprocess
    import sys
    import threading
    import time

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = ComfyServer(workdir=tmp_path)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    server.log_path.write_text("Cannot import dragnext: SyntaxError\n")
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = time.time()
        with pytest.raises(RuntimeError, match="(?s)failed to import.*Cannot import dragnext"):
            server._wait_for_pack(timeout=60)
        assert time.time() - started < 10
    finally:
        server.process.kill()
        server.process.wait()
        httpd.shutdown()
