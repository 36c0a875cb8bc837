#!/usr/bin/env python3
"""A correct (if chatty) test node for every workload: echo, broadcast, g-set, g-counter,
pn-counter. State-based gossip: every 100 ms it sends its whole state to every other node,
so it converges after partitions heal. Used by the harness's end-to-end tests."""
import json, os, select, sys, time

node_id = None
node_ids = []
msg_id = 0
elements = set()          # broadcast / g-set
counts = {}               # node -> [inc, dec] for counters
last_gossip = 0.0
GOSSIP_EVERY = 0.1
MODE = sys.argv[1] if len(sys.argv) > 1 else ""

def send(dest, body):
    global msg_id
    msg_id += 1
    body["msg_id"] = msg_id
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")

def reply(req, body):
    body["in_reply_to"] = req["body"]["msg_id"]
    send(req["src"], body)

def total():
    return sum(p - n for p, n in counts.values())

def handle(msg):
    global node_id, node_ids
    body = msg["body"]
    t = body.get("type")
    if t == "init":
        node_id = body["node_id"]
        node_ids = body["node_ids"]
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
        reply(msg, {"type": "add_ok"})
    elif t == "read":
        if MODE == "counter":
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
    for n in node_ids:
        if n != node_id:
            send(n, {"type": "gossip", "elements": sorted(elements), "counts": counts})

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
