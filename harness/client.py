"""A small client for the ComfyUI server's HTTP and websocket API."""
import io
import json
import time
import urllib.error
import urllib.request
import uuid

import websocket


class PromptRejected(Exception):
    """POST /prompt answered 400: the graph failed validation. `.body` holds the JSON."""

    def __init__(self, body):
        super().__init__(json.dumps(body))
        self.body = body


class ComfyClient:
    def __init__(self, url: str):
        self.url = url
        self.client_id = uuid.uuid4().hex

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read()

    def post(self, path: str, data=None):
        body = json.dumps(data or {}).encode()
        req = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return json.loads(text) if text else None

    def upload_image(self, name: str, png: bytes) -> str:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + png + \
               f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.url + "/upload/image", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["name"]

    def upload_pil(self, name: str, image) -> str:
        """Upload a PIL image as PNG; returns the name the server gave it."""
        buf = io.BytesIO()
        image.save(buf, "PNG")
        return self.upload_image(name, buf.getvalue())

    def queue(self, graph: dict) -> str:
        try:
            return self.post("/prompt", {"prompt": graph, "client_id": self.client_id})["prompt_id"]
        except urllib.error.HTTPError as e:
            if e.code == 400:
                raise PromptRejected(json.loads(e.read())) from None
            raise

    def interrupt(self):
        self.post("/interrupt")

    def connect(self):
        ws_url = self.url.replace("http://", "ws://") + f"/ws?clientId={self.client_id}"
        return websocket.create_connection(ws_url, timeout=600)

    def run(self, graph: dict, timeout=900, on_message=None) -> dict:
        """Queue `graph` and follow it to its end. Returns {"prompt_id", "status", "messages",
        "history"}; status is "success", "error" or "interrupted"."""
        ws = self.connect()
        try:
            prompt_id = self.queue(graph)
            messages = []
            deadline = time.time() + timeout
            while time.time() < deadline:
                ws.settimeout(max(0.1, deadline - time.time()))  # the whole run's deadline, not each message's
                try:
                    raw = ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
                except websocket.WebSocketConnectionClosedException as error:
                    raise ConnectionError(f"the server closed the connection during prompt {prompt_id} (did it "
                                          "exit? its log says)") from error
                if not isinstance(raw, str):
                    continue  # binary preview frames
                msg = json.loads(raw)
                data = msg.get("data", {})
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                messages.append(msg)
                if on_message:
                    on_message(msg)
                kind = msg["type"]
                if kind in ("execution_success", "execution_error", "execution_interrupted"):
                    status = {"execution_success": "success", "execution_error": "error",
                              "execution_interrupted": "interrupted"}[kind]
                    return {"prompt_id": prompt_id, "status": status, "messages": messages,
                            "history": self.history(prompt_id)}
            raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout}s")
        finally:
            ws.close()

    def history(self, prompt_id: str, timeout=30) -> dict:
        """The prompt's history entry; the server files it just after its last message.
        TimeoutError when it has none within `timeout` s."""
        deadline = time.time() + timeout
        while True:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry:
                return entry
            if time.time() > deadline:
                raise TimeoutError(f"the server filed no history for prompt {prompt_id} within {timeout}s")
            time.sleep(0.1)

    def output_images(self, result: dict, node_id: str) -> list:
        """The PNG bytes a node (SaveImage) wrote in a finished run."""
        images = result["history"]["outputs"][node_id]["images"]
        return [self.get_bytes(f"/view?filename={i['filename']}&subfolder={i['subfolder']}&type={i['type']}")
                for i in images]
