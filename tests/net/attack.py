#!/usr/bin/python3
"""attack.py - raw FLOT peers for the across-hosts security test.

Written from protocol/SPEC.md with python3-zmq and python3-msgpack, so that
the attacks do not depend on our own client code. Each subcommand prints
what it saw on one line and exits 0; the test decides what is a pass.

  attack.py ENDPOINT CERT BROKER_PUB ready SERVICE [KEY...]
      registers SERVICE claiming KEYs; prints "DISCONNECT <reason>", or
      "registered" if nothing refused it within 2 s (then it lists itself
      with Actors, whose answer it prints too)
  attack.py ENDPOINT CERT BROKER_PUB hold-and-call SIGNAL_FILE SERVICE COMMAND
      connects once, calls SERVICE COMMAND and prints the answer; waits
      until SIGNAL_FILE exists, then calls again on the same connection and
      prints that answer: a key revoked in between is refused there
  attack.py ENDPOINT - - subscribe-plain SECONDS
      a SUB socket without CURVE on an events endpoint: prints how many
      messages it got in SECONDS
  attack.py ENDPOINT CERT PUB_KEY_Z85 subscribe SECONDS
      a CURVE SUB socket: prints the deployment of each event it gets

CERT is a secret key file (flotctl keys new / create), "-" for none;
BROKER_PUB the broker's public key file.
"""
import os
import struct
import sys
import time

import msgpack
import zmq
import zmq.auth


def socket(kind, endpoint, cert, server):
    s = zmq.Context.instance().socket(kind)
    s.linger = 0
    if cert != "-":
        public, secret = zmq.auth.load_certificate(cert)
        s.curve_publickey, s.curve_secretkey = public, secret
        if os.path.exists(server):
            server = zmq.auth.load_certificate(server)[0]
        s.curve_serverkey = server if isinstance(server, bytes) else server.encode()
    s.connect(endpoint)
    return s


def string(text):
    data = text.encode()
    return bytes([len(data)]) + data


def request(s, corr, service, command, body=None):
    header = (b"FLOT03" + b"\x01" + struct.pack(">Q", corr) + string(service)
              + string("") + struct.pack(">I", 3000) + string(command))
    s.send(header + msgpack.packb(body or {}))
    if not s.poll(4000):
        return "no answer"
    frame = s.recv()
    kind = frame[6]
    answer = msgpack.unpackb(frame[15:])
    if kind == 0x03:
        return "ERROR %s %s" % (answer.get("name"), answer.get("message"))
    return "REPLY %s" % answer


def ready(s, service, keys):
    body = {"host": "attacker", "pid": os.getpid(), "keys": keys, "versions": [2, 3]}
    s.send(b"FLOT02" + b"\x10" + string(service) + msgpack.packb(body))
    deadline = time.time() + 2
    while time.time() < deadline:
        if s.poll(200):
            frame = s.recv()
            if frame[6] == 0x21:
                return "DISCONNECT %s" % msgpack.unpackb(frame[7:])["reason"]
    return "registered: " + request(s, 9, "broker", "Actors")


def main(argv):
    endpoint, cert, server, what = argv[1:5]
    rest = argv[5:]
    if what == "ready":
        print(ready(socket(zmq.DEALER, endpoint, cert, server), rest[0], rest[1:]))
    elif what == "hold-and-call":
        signal, service, command = rest
        s = socket(zmq.DEALER, endpoint, cert, server)
        print("first:", request(s, 1, service, command), flush=True)
        while not os.path.exists(signal):
            time.sleep(0.05)
        print("then:", request(s, 2, service, command), flush=True)
    elif what == "subscribe-plain":
        s = socket(zmq.SUB, endpoint, "-", "-")
        s.subscribe(b"")
        got, deadline = 0, time.time() + float(rest[0])
        while time.time() < deadline:
            if s.poll(100):
                s.recv_multipart()
                got += 1
        print("got", got)
    elif what == "subscribe":
        s = socket(zmq.SUB, endpoint, cert, server)
        s.subscribe(b"")
        deadline = time.time() + float(rest[0])
        while time.time() < deadline:
            if s.poll(100):
                frames = s.recv_multipart()
                print(frames[0].decode(errors="replace"), flush=True)
    else:
        print("unknown subcommand", what)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
