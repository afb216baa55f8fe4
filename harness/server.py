"""Start and stop the real ComfyUI server (the pinned host in .comfyui/) with this pack."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = REPO / ".comfyui"
PACK_NAME = "dragnext"


def install_pack():
    """Link this repository into the host's custom_nodes as `dragnext`."""
    link = HOST / "custom_nodes" / PACK_NAME
    if not link.is_symlink():
        link.symlink_to(REPO, target_is_directory=True)
    return link


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """A ComfyUI server on a loopback port, with its own input/output/user folders."""

    def __init__(self, workdir=None, models_dir=None):
        self.own_workdir = workdir is None  # made here: removed by stop()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="dragnext-comfy-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.input_dir = self.workdir / "input"
        self.output_dir = self.workdir / "out"
        self.user_dir = self.workdir / "user"
        self.models_dir = Path(models_dir) if models_dir else self.workdir / "models"
        self.log_path = self.workdir / "server.log"
        self.process = None

    @property
    def checkpoints_dir(self) -> Path:
        return self.models_dir / "checkpoints"

    def start(self, timeout=120):
        install_pack()
        for d in (self.input_dir, self.output_dir, self.user_dir, self.workdir / "temp", self.checkpoints_dir):
            d.mkdir(parents=True, exist_ok=True)
        paths = self.workdir / "extra_model_paths.yaml"
        paths.write_text(f"dragnext_test:\n    base_path: {self.models_dir}\n    checkpoints: checkpoints\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        cmd = [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--disable-auto-launch", "--dont-print-server", "--disable-api-nodes",
               "--database-url", "sqlite:///:memory:", "--output-directory", str(self.output_dir),
               "--input-directory", str(self.input_dir), "--temp-directory", str(self.workdir / "temp"),
               "--user-directory", str(self.user_dir), "--extra-model-paths-config", str(paths),
               "--disable-all-custom-nodes", "--whitelist-custom-nodes", PACK_NAME]
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, cwd=HOST, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_for_pack(timeout)
        except BaseException:
            self.stop()  # no server outlives a failed start
            raise
        return self

    def _wait_for_pack(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited at start:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/object_info/DragNeXtPBSI", timeout=2) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.5)
                continue
            if b"DragNeXtPBSI" in body:
                return
            # The host listens only once its custom nodes are loaded: up without ours, the pack failed to import.
            raise RuntimeError(f"ComfyUI started without the DragNeXt nodes: the pack failed to import (the log "
                               f"says why):\n{self.log()}")
        raise RuntimeError(f"ComfyUI did not list the DragNeXt nodes within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
