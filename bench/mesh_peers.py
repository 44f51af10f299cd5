"""The two comparison clients of bench/mesh.ts, run in the project venv.

  mesh-client: NHS England's reference Python client (mesh-client on PyPI).
  curl:        plain curl, one process per request, carrying the same chunks (pre-split files).

Each does the same round trip as our client: send (chunked), list the inbox, download every chunk
to a file, acknowledge; then prints one JSON line: {"seconds": transfer time, "peakRssBytes": …}
(and for mesh-client "idleRssBytes", the peak before the transfer).
Peak memory is this process's for mesh-client, and the largest curl process's for curl.
"""
import datetime
import hashlib
import hmac
import json
import resource
import subprocess
import sys
import time
import uuid


def token(mailbox: str, password: str, shared_key: str) -> str:
    nonce = str(uuid.uuid4())
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M")
    digest = hmac.new(shared_key.encode(), f"{mailbox}:{nonce}:1:{password}:{stamp}".encode(), hashlib.sha256).hexdigest()
    return f"NHSMESH {mailbox}:{nonce}:1:{stamp}:{digest}"


def with_mesh_client(a: dict) -> dict:
    from mesh_client import MeshClient

    def client(mailbox: str) -> MeshClient:
        return MeshClient(a["url"], mailbox, a["password"], shared_key=a["sharedKey"].encode(),
                          max_chunk_size=a["chunkSize"], transparent_compress=a["gzip"])

    sender, receiver = client(a["sender"]), client(a["recipient"])
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    with open(a["file"], "rb") as data:
        message_id = sender.send_message(a["recipient"], data, workflow_id="GP2GP_MI", filename="bench.dat")
    assert message_id in list(receiver.iterate_message_ids())
    message = receiver.retrieve_message(message_id)
    with open(a["out"], "wb") as out:
        while True:
            block = message.read(1 << 20)
            if not block:
                break
            out.write(block)
    message.close()
    receiver.acknowledge_message(message_id)
    seconds = time.perf_counter() - start
    sender.close()
    receiver.close()
    return {"seconds": seconds, "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "idleRssBytes": idle}


def with_curl(a: dict) -> dict:
    base = a["url"].rstrip("/") + "/messageexchange/"
    chunks = a["chunks"]
    total = len(chunks)

    def curl(mailbox: str, args: list, stdout=subprocess.PIPE) -> bytes:
        headers = ["-H", "accept: application/vnd.mesh.v2+json", "-H", "mex-clientversion: curl", "-H", "mex-osname: Linux",
                   "-H", "mex-osversion: bench", "-H", f"authorization: {token(mailbox, a['password'], a['sharedKey'])}",
                   # No 100-continue round trip before each upload.
                   "-H", "Expect:"]
        return subprocess.run(["curl", "-sS", "-f", *headers, *args], stdout=stdout, check=True).stdout

    encoding = ["-H", "content-encoding: gzip"] if a["gzip"] else []
    start = time.perf_counter()
    first = curl(a["sender"], ["-X", "POST", "-T", chunks[0], "-H", f"mex-to: {a['recipient']}", "-H", "mex-workflowid: GP2GP_MI",
                               "-H", "mex-filename: bench.dat", "-H", f"mex-chunk-range: 1:{total}", "-H", "content-type: application/octet-stream",
                               *encoding, base + f"{a['sender']}/outbox"])
    message_id = json.loads(first)["message_id"]
    for n in range(2, total + 1):
        curl(a["sender"], ["-X", "POST", "-T", chunks[n - 1], "-H", f"mex-chunk-range: {n}:{total}", "-H", "content-type: application/octet-stream",
                           *encoding, base + f"{a['sender']}/outbox/{message_id}/{n}"])
    inbox = json.loads(curl(a["recipient"], [base + f"{a['recipient']}/inbox"]))
    assert message_id in inbox["messages"]
    with open(a["out"], "wb") as out:
        for n in range(1, total + 1):
            suffix = "" if n == 1 else f"/{n}"
            curl(a["recipient"], [base + f"{a['recipient']}/inbox/{message_id}{suffix}"], stdout=out)
    curl(a["recipient"], ["-X", "PUT", base + f"{a['recipient']}/inbox/{message_id}/status/acknowledged"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peakRssBytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


if __name__ == "__main__":
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(with_mesh_client(args) if mode == "mesh-client" else with_curl(args)))
