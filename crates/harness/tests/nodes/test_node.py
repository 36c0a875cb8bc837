#!/usr/bin/env python3
"""A test node for the harness's end-to-end tests, correct by default, with switches that
make it misbehave in one specific way each (the negative controls).

Usage: test_node.py MODE [FLAGS...]
  MODE: broadcast (default), g-set, counter, seqkv-counter
  --no-gossip        acknowledge writes but never tell other nodes (loses data)
  --extra-key        put an extra key in every read_ok (closed-schema violation)
  --garbage-mid-run  print a non-JSON line on stdout after the 3rd client request
  --bad-dest         send a message to n99 (no such node) after the 3rd client request
  --crash NODE       if this node is NODE: exit with status 3 one second after init
  --no-init          never answer init
  --garbage-init     print garbage instead of answering init
  --endless-line     after answering init, print a line that does not end (256 MiB, then wait)
  --flood            after answering init, print 512 MiB of non-JSON lines as fast as they go

State-based gossip: every 100 ms the node sends its whole state to every other node, so it
converges once partitions heal. seqkv-counter keeps each node's count in seq-kv (like the
fly.io g-counter challenge) and syncs with a unique write before reading."""
import json, os, select, sys, time

args = sys.argv[1:]
MODE = args[0] if args and not args[0].startswith("--") else "broadcast"
FLAGS = set(a for a in args if a.startswith("--"))
CRASH_NODE = args[args.index("--crash") + 1] if "--crash" in args else None

node_id = None
node_ids = []
msg_id = 0
elements = set()
counts = {}
last_gossip = 0.0
crash_at = None
client_requests = 0
pending = {}   # msg_id -> callback(body) for service replies
GOSSIP_EVERY = 0.1

def send(dest, body, callback=None):
    global msg_id
    msg_id += 1
    body["msg_id"] = msg_id
    if callback:
        pending[msg_id] = callback
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")

def reply(req, body):
    if "--extra-key" in FLAGS and body["type"] == "read_ok":
        body["extra"] = True
    body["in_reply_to"] = req["body"]["msg_id"]
    send(req["src"], body)

def total():
    return sum(p - n for p, n in counts.values())

def seqkv_read_all(req):
    # A unique write moves this node to seq-kv's newest state, so the reads after it are fresh.
    values = {}
    def after_sync(_):
        for n in node_ids:
            def got(body, n=n):
                values[n] = body.get("value", 0) if body["type"] == "read_ok" else 0
                if len(values) == len(node_ids):
                    reply(req, {"type": "read_ok", "value": sum(values.values())})
            send("seq-kv", {"type": "read", "key": n}, got)
    send("seq-kv", {"type": "write", "key": "sync-" + node_id, "value": time.time_ns()}, after_sync)

def handle(msg):
    global node_id, node_ids, crash_at, client_requests
    body = msg["body"]
    t = body.get("type")
    if msg["src"].startswith("c") and t != "init":
        client_requests += 1
        if client_requests == 3 and "--garbage-mid-run" in FLAGS:
            sys.stdout.write("this is not JSON\n")
        if client_requests == 3 and "--bad-dest" in FLAGS:
            send("n99", {"type": "gossip", "elements": [], "counts": {}})
    irt = body.get("in_reply_to")
    if irt is not None and irt in pending:
        pending.pop(irt)(body)
        return
    if t == "init":
        node_id = body["node_id"]
        node_ids = body["node_ids"]
        if "--no-init" in FLAGS:
            sys.stderr.write("not answering init, as asked\n")
            return
        if "--garbage-init" in FLAGS:
            sys.stdout.write("hello, harness!\n")
            return
        if CRASH_NODE == node_id:
            crash_at = time.monotonic() + 1.0
        reply(msg, {"type": "init_ok"})
    elif t == "echo":
        reply(msg, {"type": "echo_ok", "echo": body["echo"]})
    elif t == "topology":
        reply(msg, {"type": "topology_ok"})
    elif t == "broadcast":
        elements.add(body["message"])
        reply(msg, {"type": "broadcast_ok"})
    elif t == "add" and "element" in body:
        elements.add(body["element"])
        reply(msg, {"type": "add_ok"})
    elif t == "add":
        d = body["delta"]
        c = counts.setdefault(node_id, [0, 0])
        if d >= 0:
            c[0] += d
        else:
            c[1] -= d
        if MODE == "seqkv-counter":
            send("seq-kv", {"type": "write", "key": node_id, "value": c[0] - c[1]},
                 lambda _b: reply(msg, {"type": "add_ok"}))
        else:
            reply(msg, {"type": "add_ok"})
    elif t == "read":
        if MODE == "seqkv-counter":
            seqkv_read_all(msg)
        elif MODE == "counter":
            reply(msg, {"type": "read_ok", "value": total()})
        elif MODE == "g-set":
            reply(msg, {"type": "read_ok", "value": sorted(elements)})
        else:
            reply(msg, {"type": "read_ok", "messages": sorted(elements)})
    elif t == "gossip":
        elements.update(body["elements"])
        for n, (p, m) in body["counts"].items():
            c = counts.setdefault(n, [0, 0])
            c[0] = max(c[0], p)
            c[1] = max(c[1], m)

def gossip():
    if "--no-gossip" in FLAGS or MODE == "seqkv-counter":
        return
    for n in node_ids:
        if n != node_id:
            send(n, {"type": "gossip", "elements": sorted(elements), "counts": counts})

def spew():
    # Bounded, so that a harness without limits runs out of patience, not of memory.
    if "--endless-line" in FLAGS:
        chunk, times = b"x" * (1 << 20), 256
    else:
        chunk, times = b"not JSON, just noise from a node that will not stop\n" * 20000, 512
    for _ in range(times):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()

spewed = False
buf = b""
while True:
    timeout = max(0.0, last_gossip + GOSSIP_EVERY - time.monotonic())
    r, _, _ = select.select([0], [], [], timeout)
    if r:
        chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(0)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                handle(json.loads(line))
    if node_id and time.monotonic() >= last_gossip + GOSSIP_EVERY:
        last_gossip = time.monotonic()
        gossip()
    sys.stdout.flush()
    if node_id and not spewed and ("--endless-line" in FLAGS or "--flood" in FLAGS):
        spewed = True
        spew()
    if crash_at is not None and time.monotonic() >= crash_at:
        sys.stderr.write("fatal: simulated crash of " + node_id + "\n")
        sys.stderr.flush()
        sys.exit(3)
