#!/usr/bin/env python3
"""make_corpus.py - writes the fuzz seeds in corpus/decode and corpus/body.

A few messages and bodies from protocol/SPEC.md (one valid message of each
kind in the layout of section 2, one frame each, in version 02 and in
version 03, whose DELIVER ends its header with the caller; the worked
examples of section 15, and its DELIVER of 03; a few bad messages, among
them FLOT01 and FLOT04 messages as wrong-version input, one in FLOT01's
two-frame layout, DELIVERs of one version labelled the other and bad
callers; a body with every msgpack type), in the input formats that
fuzz_decode.c and fuzz_body.c read. Run it from anywhere (python3 tests/fuzz/make_corpus.py); it empties
corpus/decode and rewrites it, and rewrites the seeds of corpus/body.
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
ECHO_READY_BODY = fixmap((s("instance"), s("echo-1")), (s("host"), s("build7")),
                         (s("pid"), b"\xcd\x10\x92"))
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


def header(kind, *fields, signature=b"FLOT02"):
    """A header: the signature, the kind byte, the fields as given (strings
    already through string(), numbers packed)."""
    return signature + bytes([kind]) + b"".join(fields)


PING = header(0x01, CORR, string(b"broker"), string(b""), TIMEOUT, string(b"Ping"))
assert PING.hex() == "464c4f54303201000000000000002a0662726f6b657200000013880450696e67"
assert len(PING_REPLY) == 34 and len(ERROR_BODY) == 80 and len(ECHO_READY_BODY) == 36
CORR7 = struct.pack(">Q", 7)
PING01 = b"FLOT01" + PING[6:]

DELIVER_03 = header(0x11, string(ROUTE), CORR7, string(b""), struct.pack(">I", 30000),
                    string(b"Echo"), string(b"alice"), signature=b"FLOT03")
assert DELIVER_03.hex() == ("464c4f54303311" "050080000029" "0000000000000007" "00" "00007530"
                            "044563686f" "05616c696365")
DELIVER_02 = header(0x11, string(ROUTE), CORR7, string(b""), struct.pack(">I", 30000),
                    string(b"Echo"))


def v3(frames):
    """The same frame list with the signature of version 03 on its first
    frame: for every kind but DELIVER, the same message in 03."""
    return [b"FLOT03" + frames[0][6:]] + frames[1:]


#   Each message is its frame list: one frame, the header and then the body
#   if its kind has one. The bad ones may have other counts.
MESSAGES = {
    "request_ping": [PING + b"\x80"],
    "request_keyed": [header(0x01, CORR, string(b"executor"), string(b"eu-1"),
                             b"\x00\x00\x00\x00", string(b"Deploy")) + ECHO_BODY],
    "reply": [header(0x02, CORR) + PING_REPLY],
    "error": [header(0x03, CORR) + ERROR_BODY],
    "stream": [header(0x04, CORR) + fixmap((s("tick"), b"\x01"))],
    "stream_end": [header(0x05, CORR) + b"\x80"],
    "ready": [header(0x10, string(b"echo")) + READY_BODY],
    "deliver": [header(0x11, string(ROUTE), CORR, string(b""), struct.pack(">I", 30000),
                       string(b"Echo")) + ECHO_BODY],
    "a_reply": [header(0x12, string(ROUTE), CORR) + ECHO_BODY],
    "a_error": [header(0x13, string(ROUTE), CORR) + ERROR_BODY],
    "a_stream": [header(0x14, string(ROUTE), CORR) + EVERY_TYPE],
    "a_stream_end": [header(0x15, string(ROUTE), CORR) + b"\x80"],
    "cancel": [header(0x16, string(ROUTE), CORR) + REASON_BODY],
    "heartbeat": [header(0x20)],
    "disconnect": [header(0x21) + REASON_BODY],
    #   SPEC section 15, through an actor: echo registers, a client's
    #   REQUEST (corr 7) goes to it as DELIVER, and its A_REPLY back as REPLY.
    "echo_ready": [header(0x10, string(b"echo")) + ECHO_READY_BODY],
    "echo_request": [header(0x01, CORR7, string(b"echo"), string(b""),
                            b"\x00\x00\x00\x00", string(b"Echo")) + ECHO_BODY],
    "echo_deliver": [header(0x11, string(ROUTE), CORR7, string(b""),
                            struct.pack(">I", 30000), string(b"Echo")) + ECHO_BODY],
    "echo_a_reply": [header(0x12, string(ROUTE), CORR7) + ECHO_BODY],
    "echo_reply": [header(0x02, CORR7) + ECHO_BODY],
    #   Bad input (SPEC section 7), mostly addressable requests: no frames,
    #   two and three frames (the FLOT01 layout, and worse), the previous
    #   version in one frame and in its own two-frame layout, a FLOT01
    #   HEARTBEAT, the header cut after the corr, no body, a body that is not
    #   a map, and a HEARTBEAT with bytes after it.
    "bad_no_frames": [],
    "bad_two_frames": [PING, b"\x80"],
    "bad_three_frames": [PING + b"\x80", b"\x80", b"\x80"],
    "bad_version": [PING01 + b"\x80"],
    "bad_flot01_two_frames": [PING01, b"\x80"],
    "bad_version_heartbeat": [b"FLOT01\x20"],
    "bad_cut": [PING[:15]],
    "bad_no_body": [PING],
    "bad_body_not_map": [PING + b"\x00\x80"],
    "bad_heartbeat_body": [header(0x20) + b"\x80"],
}

#   Version 03: every valid message above but DELIVER, relabelled; SPEC
#   section 15's DELIVER of 03 (caller "alice"), one with no caller, one
#   with a caller of 255 bytes and every other field at its limit (the
#   largest header there is), and bad input: a caller with a space or DEL,
#   a frame that ends inside the caller, a DELIVER of 02 labelled 03 (its
#   body's 0x81 read as the caller's length), one of 03 labelled 02 (the
#   caller's length read as the body), and FLOT04.
for name in list(MESSAGES):
    if not name.startswith("bad_") and "deliver" not in name:
        MESSAGES["v3_" + name] = v3(MESSAGES[name])
MESSAGES.update({
    "v3_deliver": [DELIVER_03 + ECHO_BODY],
    "v3_deliver_no_caller": [header(0x11, string(ROUTE), CORR, string(b"eu-1"), TIMEOUT,
                                    string(b"Deploy"), string(b""), signature=b"FLOT03")
                             + ECHO_BODY],
    "v3_deliver_largest": [header(0x11, string(bytes(range(255))), b"\xff" * 8,
                                  string(b"~" * 255), struct.pack(">I", 86400000),
                                  string(b"N" * 64), string(b"c" * 255), signature=b"FLOT03")
                           + b"\x80"],
    "v3_bad_caller_space": [header(0x11, string(ROUTE), CORR7, string(b""), TIMEOUT,
                                   string(b"Echo"), string(b"al ice"), signature=b"FLOT03")
                            + ECHO_BODY],
    "v3_bad_caller_del": [header(0x11, string(ROUTE), CORR7, string(b""), TIMEOUT,
                                 string(b"Echo"), string(b"bob\x7f"), signature=b"FLOT03")
                          + ECHO_BODY],
    "v3_bad_cut_in_caller": [DELIVER_03[:-3]],
    "v3_bad_deliver_02_as_03": [b"FLOT03" + DELIVER_02[6:] + ECHO_BODY],
    "v3_bad_deliver_03_as_02": [b"FLOT02" + DELIVER_03[6:] + ECHO_BODY],
    "bad_version_04": [b"FLOT04" + PING[6:] + b"\x80"],
    "bad_version_04_deliver": [b"FLOT04" + DELIVER_03[6:] + ECHO_BODY],
})
assert len(MESSAGES["v3_deliver_largest"][0]) == 852 + 1

BODIES = {
    "empty_map": b"\x80",
    "ping_reply": PING_REPLY,
    "error": ERROR_BODY,
    "ready": READY_BODY,
    "every_type": EVERY_TYPE,
    "nested": fixmap((s("a"), b"\x91" * 30 + b"\x80")),
}


def frames_input(frames):
    """The fuzz_decode input for a frame list: the count, every frame but
    the last with a 2-byte length, then the last."""
    assert len(frames) < 4, "fuzz_decode reads byte 0 mod 4"
    out = bytes([len(frames)])
    for frame in frames[:-1]:
        out += struct.pack(">H", len(frame)) + frame
    return out + (frames[-1] if frames else b"")


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
