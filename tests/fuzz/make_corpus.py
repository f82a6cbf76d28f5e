#!/usr/bin/env python3
"""make_corpus.py - writes the fuzz seeds in corpus/decode and corpus/body.

A few messages and bodies from protocol/SPEC.md (one valid message of each
kind in the FLOT01 layout of section 2, the worked examples of section 15, a
few addressable bad requests, a body with every msgpack type), in the input
formats that fuzz_decode.c and fuzz_body.c read. Run it from anywhere; it
rewrites the two directories.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def s(text):
    """A msgpack fixstr or str8."""
    data = text.encode()
    if len(data) < 32:
        return bytes([0xa0 | len(data)]) + data
    return bytes([0xd9, len(data)]) + data


def fixmap(*pairs):
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


PING_REPLY = fixmap((s("pong"), b"\xc3"), (s("version"), s("0.1.0")),
                    (s("uptime_ms"), b"\xcd\x04\xd2"))
ERROR_BODY = fixmap((s("code"), b"\x05"), (s("name"), s("NO_INSTANCE")),
                    (s("message"), s("no live instance of executor serves key 'eu-1'")))
READY_BODY = fixmap((s("instance"), s("echo-1")), (s("host"), s("build7")),
                    (s("pid"), b"\xcd\x10\x92"), (s("keys"), b"\x92" + s("eu-1") + s("us-2")))
ECHO_BODY = fixmap((s("a"), b"\x01"))
REASON_BODY = fixmap((s("reason"), s("caller is gone")))
EVERY_TYPE = fixmap(
    (s("nil"), b"\xc0"), (s("t"), b"\xc3"), (s("neg"), b"\xd3" + struct.pack(">q", -2**63)),
    (s("u64"), b"\xcf" + struct.pack(">Q", 2**64 - 1)), (s("f32"), b"\xca" + struct.pack(">f", 1.5)),
    (s("f64"), b"\xcb" + struct.pack(">d", -0.25)), (s("bin"), b"\xc4\x02\x00\xff"),
    (s("ext"), b"\xc7\x02\x05ab"), (s("str"), b"\xda\x00\x02\xc3\xa9"),
    (s("list"), b"\xdc\x00\x02\x01\x90"), (s("map"), b"\xde\x00\x01" + s("x") + b"\x80"),
    (s("fix"), b"\xd6\x01abcd"))

CORR = struct.pack(">Q", 42)
TIMEOUT = struct.pack(">I", 5000)
ROUTE = b"\x00\x80\x00\x00\x29"


def string(data):
    """A header string field: a length byte and the bytes."""
    assert len(data) <= 255
    return bytes([len(data)]) + data


def header(kind, *fields, signature=b"FLOT01"):
    """A header: the signature, the kind byte, the fields as given (strings
    already through string(), numbers packed)."""
    return signature + bytes([kind]) + b"".join(fields)


PING = header(0x01, CORR, string(b"broker"), string(b""), TIMEOUT, string(b"Ping"))
assert PING.hex() == "464c4f54303101000000000000002a0662726f6b657200000013880450696e67"

#   Each message is its frame list: the header, then the body if it has one.
MESSAGES = {
    "request_ping": [PING, b"\x80"],
    "request_keyed": [header(0x01, CORR, string(b"executor"), string(b"eu-1"),
                             b"\x00\x00\x00\x00", string(b"Deploy")), ECHO_BODY],
    "reply": [header(0x02, CORR), PING_REPLY],
    "error": [header(0x03, CORR), ERROR_BODY],
    "stream": [header(0x04, CORR), fixmap((s("tick"), b"\x01"))],
    "stream_end": [header(0x05, CORR), b"\x80"],
    "ready": [header(0x10, string(b"echo")), READY_BODY],
    "deliver": [header(0x11, string(ROUTE), CORR, string(b""), struct.pack(">I", 30000),
                       string(b"Echo")), ECHO_BODY],
    "a_reply": [header(0x12, string(ROUTE), CORR), ECHO_BODY],
    "a_error": [header(0x13, string(ROUTE), CORR), ERROR_BODY],
    "a_stream": [header(0x14, string(ROUTE), CORR), EVERY_TYPE],
    "a_stream_end": [header(0x15, string(ROUTE), CORR), b"\x80"],
    "cancel": [header(0x16, string(ROUTE), CORR), REASON_BODY],
    "heartbeat": [header(0x20)],
    "disconnect": [header(0x21), REASON_BODY],
    #   Addressable bad requests (SPEC section 7): another version, the header
    #   cut after the corr, no body, three frames, bytes after the command.
    "bad_version": [b"FLOT02" + PING[6:], b"\x80"],
    "bad_cut": [PING[:15], b"\x80"],
    "bad_no_body": [PING],
    "bad_three_frames": [PING, b"\x80", b"\x80"],
    "bad_trailing": [PING + b"\x00", b"\x80"],
}

BODIES = {
    "empty_map": b"\x80",
    "ping_reply": PING_REPLY,
    "error": ERROR_BODY,
    "ready": READY_BODY,
    "every_type": EVERY_TYPE,
    "nested": fixmap((s("a"), b"\x91" * 30 + b"\x80")),
}


def frames_input(frames):
    """The fuzz_decode input for a frame list."""
    out = bytes([len(frames)])
    for frame in frames[:-1]:
        out += struct.pack(">H", len(frame)) + frame
    return out + frames[-1]


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    decode = os.path.join(HERE, "corpus", "decode")
    if os.path.isdir(decode):
        for name in os.listdir(decode):
            os.remove(os.path.join(decode, name))
    for name, frames in MESSAGES.items():
        write(decode, name, frames_input(frames))
    for name, body in BODIES.items():
        write(os.path.join(HERE, "corpus", "body"), name, body)


if __name__ == "__main__":
    main()
