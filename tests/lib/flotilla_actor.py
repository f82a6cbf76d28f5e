"""flotilla_actor.py - a Flotilla actor in Python, written from protocol/SPEC.md.

Serves one service over a DEALER socket connected to a Flotilla broker
(FLOT02): registers with READY (service, instance, host, pid, keys,
versions), sends a HEARTBEAT every interval and watches the broker's,
answers each DELIVER with A_REPLY or A_ERROR, registers again when the
broker says it does not know us (DISCONNECT) and reconnects with a fresh
socket when the broker is silent too long, and says DISCONNECT when it
stops on SIGTERM or SIGINT. Over tcp it connects with CURVE when it has a
key (SPEC 14; default_keys says where it looks). Needs only Debian's
python3-zmq and python3-msgpack.

    from flotilla_actor import Actor, ActorError, field

    def echo(body):
        return body

    def sleep(body):
        ms = field(body, "ms", "uint", required=True, max=3600000)
        ...
        raise ActorError("INVALID", "field 'ms': ...")

    actor = Actor("tcp://127.0.0.1:5555", "pyecho", keys=["a"],
                  handlers={"Echo": echo, "Sleep": sleep})
    sys.exit(actor.run())

A handler gets the request body as a dict (decoded with raw=False,
strict_map_key=True; nil values dropped, since SPEC 3.2 reads nil as
absent) and returns the reply as a dict, or raises ActorError(CODE_NAME,
sentence). Any other exception is answered INTERNAL and logged. Handlers
run one at a time on the actor's thread: one that takes longer than the
broker's liveness (3 s by default) makes the broker find the actor dead.
The library opens no streams and makes no calls of its own: a CANCEL, and
a REPLY, ERROR, STREAM or STREAM_END, are logged and dropped.
"""

import json
import os
import signal
import socket
import struct
import sys
import time

import msgpack
import zmq
import zmq.auth

SIGNATURE = b"FLOT02"
VERSION = 2
HEARTBEAT_MS = 1000
LIVENESS = 3
DEFAULT_TIMEOUT_MS = 30000
MAX_TIMEOUT_MS = 86400000
MAX_BODY = 1 << 20
MAX_MESSAGE = MAX_BODY + 4096       # ZMQ_MAXMSGSIZE (SPEC 1.2, 7)
MAX_NAME = 64
MAX_KEY = 255
MAX_DEPTH = 32                      # as the C codec (include/flotilla/body.h)
MAX_MESSAGE_TEXT = 255              # an error sentence SHOULD fit (SPEC 6)
GIVE_UP_AFTER = 5                   # READYs refused in a row (SPEC 8)

# Kinds (SPEC 2).
REQUEST, REPLY, ERROR, STREAM, STREAM_END = 0x01, 0x02, 0x03, 0x04, 0x05
READY, DELIVER, A_REPLY, A_ERROR = 0x10, 0x11, 0x12, 0x13
A_STREAM, A_STREAM_END, CANCEL = 0x14, 0x15, 0x16
HEARTBEAT, DISCONNECT = 0x20, 0x21
KINDS = {
    REQUEST: "REQUEST", REPLY: "REPLY", ERROR: "ERROR", STREAM: "STREAM",
    STREAM_END: "STREAM_END", READY: "READY", DELIVER: "DELIVER",
    A_REPLY: "A_REPLY", A_ERROR: "A_ERROR", A_STREAM: "A_STREAM",
    A_STREAM_END: "A_STREAM_END", CANCEL: "CANCEL", HEARTBEAT: "HEARTBEAT",
    DISCONNECT: "DISCONNECT",
}

# Error codes (SPEC 6).
ERRORS = {
    "MALFORMED": 1, "VERSION": 2, "TOO_LARGE": 3, "UNKNOWN_SERVICE": 4,
    "NO_INSTANCE": 5, "DEADLINE": 6, "ACTOR_FAILED": 7, "NOT_AUTHORIZED": 8,
    "UNKNOWN_COMMAND": 9, "INVALID": 10, "NOT_FOUND": 11, "CONFLICT": 12,
    "BUSY": 13, "INTERNAL": 14, "CANCELLED": 15,
}

_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class ActorError(Exception):
    """An error answer: code is a name of SPEC 6 ("INVALID"), message one sentence."""

    def __init__(self, code, message):
        if code not in ERRORS:
            raise ValueError("%r is not an error code of SPEC 6" % (code,))
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class _BadMessage(Exception):
    """A message that fails a check of SPEC 7; route and corr if readable."""

    def __init__(self, code, message, route=None, corr=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.route = route
        self.corr = corr


def name_valid(name):
    """True if name (str) is a service or command name: 1..64 of [A-Za-z0-9._-]."""
    raw = name.encode("ascii", "replace") if isinstance(name, str) else name
    return 1 <= len(raw) <= MAX_NAME and all(b in _NAME_CHARS for b in raw)


def key_valid(key):
    """True if key (str) is a non-empty routing key: 1..255 bytes of 0x21..0x7E."""
    raw = key.encode("latin-1", "replace") if isinstance(key, str) else key
    return 1 <= len(raw) <= MAX_KEY and all(0x21 <= b <= 0x7E for b in raw)


# --------------------------------------------------------------------------
# Bodies (SPEC 3.2)

def _pairs_hook(pairs):
    """Each map as msgpack reads it: keys must be str, none given twice."""
    result = {}
    seen = set()
    for key, value in pairs:
        if not isinstance(key, str):
            raise _BadMessage("MALFORMED", "a map key is not a msgpack string")
        if key in seen:
            raise _BadMessage("INVALID", "field '%s' is given twice" % key)
        seen.add(key)
        if value is not None:           # nil reads as absent
            result[key] = value
    return result


def _depth(obj, level=1):
    if level > MAX_DEPTH:
        return level
    if isinstance(obj, dict):
        return max([_depth(v, level + 1) for v in obj.values()] or [level])
    if isinstance(obj, list):
        return max([_depth(v, level + 1) for v in obj] or [level])
    return level


def decode_body(data):
    """The body (bytes) as a dict; raises _BadMessage MALFORMED, TOO_LARGE or INVALID."""
    if not data:
        raise _BadMessage("MALFORMED", "body is empty")
    if len(data) > MAX_BODY:
        raise _BadMessage("TOO_LARGE", "body is %d bytes, the limit is %d"
                          % (len(data), MAX_BODY))
    first = data[0]
    if not (0x80 <= first <= 0x8F or first in (0xDE, 0xDF)):
        raise _BadMessage("MALFORMED", "body is not a msgpack map")
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=True,
                               object_pairs_hook=_pairs_hook)
    except _BadMessage:
        raise
    except msgpack.ExtraData as e:
        raise _BadMessage("MALFORMED", "body has %d trailing bytes after the map"
                          % len(e.extra)) from None
    except UnicodeDecodeError:
        raise _BadMessage("INVALID", "a string in the body is not UTF-8") from None
    except ValueError as e:
        text = str(e)
        if "incomplete" in text:
            text = "body is truncated"
        elif "map key" in text:
            text = "a map key is not a msgpack string"
        raise _BadMessage("MALFORMED", text or "body is not valid msgpack") from None
    except Exception as e:  # anything the unpacker may raise on hostile input
        raise _BadMessage("MALFORMED", "body does not decode: %s" % e) from None
    if not isinstance(body, dict):
        raise _BadMessage("MALFORMED", "body is not a msgpack map")
    if _depth(body) > MAX_DEPTH:
        raise _BadMessage("MALFORMED", "body nests deeper than %d levels" % MAX_DEPTH)
    return body


def encode_body(body):
    """A dict as a body (bytes): str as str, bytes as bin."""
    if not isinstance(body, dict):
        raise TypeError("a body is a dict, not %s" % type(body).__name__)
    return msgpack.packb(body, use_bin_type=True)


# --------------------------------------------------------------------------
# Fields: the checks a handler makes on a request, as INVALID sentences.

def show(value):
    """A value as an error sentence shows it: JSON where it can (true, "3s")."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


_TYPES = {
    "str": (str,), "uint": (int,), "int": (int,), "bool": (bool,),
    "map": (dict,), "list": (list,), "double": (float, int),
}


def field(body, name, kind, required=False, default=None, min=None, max=None,
          enum=None, where=None):
    """body[name], checked: present (if required), of kind (str, uint, int,
    bool, double, map, list), within min..max (a number's value, a str's
    bytes, a list's or a map's items), one of enum. Absent: default. Raises
    ActorError INVALID naming the field (where.name if where is given)."""
    label = "%s.%s" % (where, name) if where else name
    if name not in body:
        if required:
            raise ActorError("INVALID", "field '%s' is missing" % label)
        return default
    value = body[name]
    ok = isinstance(value, _TYPES[kind])
    if kind in ("uint", "int", "double") and isinstance(value, bool):
        ok = False
    if kind == "uint" and ok and value < 0:
        ok = False
    if not ok:
        raise ActorError("INVALID", "field '%s': %s is not a%s %s"
                         % (label, show(value), "n" if kind[0] in "aeiou" else "", kind))
    size = value
    if kind == "str":
        size = len(value.encode("utf-8"))
    elif kind in ("map", "list"):
        size = len(value)
    if (min is not None and size < min) or (max is not None and size > max):
        bounds = "%s..%s" % ("" if min is None else min, "" if max is None else max)
        what = {"str": "bytes", "map": "items", "list": "items"}.get(kind)
        shown = "%d %s" % (size, what) if what else show(value)
        raise ActorError("INVALID", "field '%s': %s is not in %s" % (label, shown, bounds))
    if enum is not None and value not in enum:
        raise ActorError("INVALID", "field '%s': %s is not one of %s"
                         % (label, show(value), ", ".join(map(str, enum))))
    return value


# --------------------------------------------------------------------------
# Frames (SPEC 2, 3.1, 7)

def _short(data):
    return bytes([len(data)]) + data


def encode_ready(service, body):
    return SIGNATURE + bytes([READY]) + _short(service.encode()) + body


def encode_answer(kind, route, corr, body):
    return SIGNATURE + bytes([kind]) + _short(route) + struct.pack(">Q", corr) + body


def encode_heartbeat():
    return SIGNATURE + bytes([HEARTBEAT])


def encode_disconnect(reason):
    return SIGNATURE + bytes([DISCONNECT]) + encode_body({"reason": reason})


class _Reader:
    """Reads a header's fields in order; _BadMessage MALFORMED when it ends."""

    def __init__(self, frame, pos):
        self.frame = frame
        self.pos = pos

    def take(self, n, what):
        if self.pos + n > len(self.frame):
            raise _BadMessage("MALFORMED", "message ends inside its %s" % what)
        data = self.frame[self.pos:self.pos + n]
        self.pos += n
        return data

    def short(self, what):
        return self.take(self.take(1, what)[0], what)

    def u64(self, what):
        return struct.unpack(">Q", self.take(8, what))[0]

    def u32(self, what):
        return struct.unpack(">I", self.take(4, what))[0]


def decode_message(frames):
    """(kind, fields) of a message from the broker; raises _BadMessage.
    fields: route, corr, key, timeout, command, body (decoded later)."""
    if not frames or not frames[0].startswith(SIGNATURE):
        code = "VERSION" if frames and frames[0][:4] == b"FLOT" else "MALFORMED"
        raise _BadMessage(code, "message does not start with the protocol signature FLOT02")
    frame = frames[0]
    # What a DELIVER can be answered at: its route and corr, if readable.
    route = corr = None
    if len(frame) > 7 and frame[6] == DELIVER:
        n = frame[7]
        if n >= 1 and len(frame) >= 8 + n + 8:
            route = bytes(frame[8:8 + n])
            corr = struct.unpack(">Q", frame[8 + n:16 + n])[0]
    try:
        if len(frames) != 1:
            raise _BadMessage("TOO_LARGE", "message has %d frames, one is allowed" % len(frames))
        if len(frame) < 7 or frame[6] not in KINDS:
            raise _BadMessage("MALFORMED", "byte 6 is not a kind")
        kind = frame[6]
        r = _Reader(frame, 7)
        fields = {}
        if kind in (REPLY, ERROR, STREAM, STREAM_END):
            fields["corr"] = r.u64("corr")
        elif kind in (DELIVER, CANCEL, A_REPLY, A_ERROR, A_STREAM, A_STREAM_END):
            fields["route"] = r.short("route")
            if not fields["route"]:
                raise _BadMessage("MALFORMED", "route is empty")
            fields["corr"] = r.u64("corr")
            if kind == DELIVER:
                key = r.short("key")
                if any(not 0x21 <= b <= 0x7E for b in key):
                    raise _BadMessage("MALFORMED", "key holds a byte outside 0x21..0x7E")
                timeout = r.u32("timeout")
                if timeout > MAX_TIMEOUT_MS:
                    raise _BadMessage("MALFORMED", "timeout %d is over %d ms"
                                      % (timeout, MAX_TIMEOUT_MS))
                command = r.short("command")
                if not name_valid(command):
                    raise _BadMessage("MALFORMED", "command is not a valid name")
                fields["key"] = key.decode("ascii")
                fields["timeout"] = timeout or DEFAULT_TIMEOUT_MS
                fields["command"] = command.decode("ascii")
        elif kind in (REQUEST, READY):
            raise _BadMessage("MALFORMED", "%s is not sent to an actor" % KINDS[kind])
        rest = frame[r.pos:]
        if kind == HEARTBEAT:
            if rest:
                raise _BadMessage("MALFORMED", "HEARTBEAT has %d bytes after its header"
                                  % len(rest))
        else:
            if not rest:
                raise _BadMessage("MALFORMED", "%s has no body" % KINDS[kind])
            if len(rest) > MAX_BODY:
                raise _BadMessage("TOO_LARGE", "body is %d bytes, the limit is %d"
                                  % (len(rest), MAX_BODY))
            if not (0x80 <= rest[0] <= 0x8F or rest[0] in (0xDE, 0xDF)):
                raise _BadMessage("MALFORMED", "body is not a msgpack map")
            fields["body"] = bytes(rest)
        return kind, fields
    except _BadMessage as e:
        e.route, e.corr = route, corr
        raise


def _error_body(code, message):
    raw = message.encode("utf-8")
    if len(raw) > MAX_MESSAGE_TEXT:
        message = raw[:MAX_MESSAGE_TEXT].decode("utf-8", "ignore")
    return encode_body({"code": ERRORS[code], "name": code, "message": message})


# --------------------------------------------------------------------------
# Keys

def default_keys(endpoint):
    """The key files an actor connects with when none is given, as flotctl
    finds them: $FLOTILLA_CERT and $FLOTILLA_BROKER_CERT; else, for a broker
    on loopback, the keys a flotillad made for this user
    ($FLOTILLA_HOME/local, default ~/.flotilla/local) if they exist; else
    none (a plain connection)."""
    cert, broker = os.environ.get("FLOTILLA_CERT"), os.environ.get("FLOTILLA_BROKER_CERT")
    if cert or broker:
        return cert, broker
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0] if endpoint.startswith("tcp://") else ""
    if host.startswith("127.") or host in ("localhost", "[::1]"):
        home = os.environ.get("FLOTILLA_HOME") or os.path.join(os.path.expanduser("~"), ".flotilla")
        local = os.path.join(home, "local")
        if os.path.exists(os.path.join(local, "local.key")):
            return os.path.join(local, "local.key"), os.path.join(local, "broker.pub")
    return None, None


# --------------------------------------------------------------------------
# The actor

class Actor:
    """One instance of a service. handlers maps command names to functions
    fn(body: dict) -> dict, which may raise ActorError."""

    def __init__(self, endpoint, service, keys=(), instance=None, handlers=None,
                 heartbeat_ms=HEARTBEAT_MS, liveness=LIVENESS, verbose=False,
                 cert=None, broker_cert=None):
        if not name_valid(service) or service == "broker":
            raise ValueError("%r is not a service an actor may register" % (service,))
        for key in keys:
            if not key_valid(key):
                raise ValueError("%r is not a routing key (1..255 of 0x21..0x7E)" % (key,))
        for command in handlers or {}:
            if not name_valid(command):
                raise ValueError("%r is not a command name" % (command,))
        self.endpoint = endpoint
        self.service = service
        self.keys = list(keys)
        self.instance = instance or "%s-%d" % (service, os.getpid())
        if len(self.instance.encode()) > MAX_NAME:
            raise ValueError("instance name %r is over %d bytes" % (self.instance, MAX_NAME))
        self.handlers = dict(handlers or {})
        self.heartbeat_ms = heartbeat_ms
        self.liveness = liveness
        self.verbose = verbose
        self.handled = 0
        # CURVE (SPEC 14): our key pair and the broker's public key, from
        # key files in czmq's certificate format; none: a plain connection.
        if cert is None and broker_cert is None:
            cert, broker_cert = default_keys(endpoint)
        self._curve = None
        if cert:
            if not broker_cert:
                raise ValueError("a key (%s) needs the broker's public key too" % cert)
            public, secret = zmq.auth.load_certificate(cert)
            if not secret:
                raise ValueError("%s holds no secret key" % cert)
            self._curve = (public, secret, zmq.auth.load_certificate(broker_cert)[0])
        self._ctx = zmq.Context.instance()
        self._dealer = None
        self._stop = None
        self._refused = 0

    # Logging: one line to stderr, "service instance: text".
    def log(self, text):
        sys.stderr.write("%s %s: %s\n" % (self.service, self.instance, text))
        sys.stderr.flush()

    def debug(self, text):
        if self.verbose:
            self.log(text)

    # The socket: a fresh DEALER and READY (SPEC 4.1, 8).
    def _connect(self):
        if self._dealer is not None:
            self._poller.unregister(self._dealer)
            self._dealer.close(linger=0)
        self._dealer = self._ctx.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.LINGER, 0)
        self._dealer.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        if self._curve:
            (self._dealer.curve_publickey, self._dealer.curve_secretkey,
             self._dealer.curve_serverkey) = self._curve
        self._dealer.connect(self.endpoint)
        self._poller.register(self._dealer, zmq.POLLIN)
        self._broker_expiry = time.monotonic() + self.heartbeat_ms * self.liveness / 1000
        self._send_ready()

    def _send(self, frame):
        try:
            self._dealer.send(frame, zmq.NOBLOCK)
        except zmq.ZMQError as e:
            self.log("cannot send to the broker: %s" % e)

    def _send_ready(self):
        body = {"instance": self.instance, "host": socket.gethostname()[:255],
                "pid": os.getpid(), "keys": self.keys, "versions": [VERSION]}
        self._send(encode_ready(self.service, encode_body(body)))
        self._need_ready = False
        self._last_ready = time.monotonic()

    def _answer(self, kind, route, corr, body):
        self._send(encode_answer(kind, route, corr, body))

    def _error(self, route, corr, code, message):
        self.debug("A_ERROR %s: %s" % (code, message))
        self._answer(A_ERROR, route, corr, _error_body(code, message))

    # One message from the broker.
    def _on_frames(self, frames):
        try:
            kind, fields = decode_message(frames)
        except _BadMessage as e:
            self.log("dropped a bad message: %s" % e.message)
            if e.route is not None:
                self._error(e.route, e.corr, e.code, e.message)
            return
        self._broker_expiry = time.monotonic() + self.heartbeat_ms * self.liveness / 1000
        if kind == DELIVER:
            self._refused = 0
            self._on_deliver(fields)
        elif kind == HEARTBEAT:
            self._refused = 0
        elif kind == DISCONNECT:
            self._on_disconnect(fields["body"])
        else:
            # CANCEL (we open no streams), answers to calls (we make none),
            # and the kinds only the broker receives.
            self.debug("ignored %s" % KINDS[kind])

    def _on_disconnect(self, raw):
        try:
            body = decode_body(raw)
        except _BadMessage:
            body = {"reason": "(a DISCONNECT whose body does not decode)"}
        reason, versions = body.get("reason", ""), body.get("versions")
        self._refused += 1
        self.log("the broker does not know us (%s); registering again" % reason)
        if isinstance(versions, list) and VERSION not in versions:
            raise SystemExit("%s: the broker speaks versions %s, not %d"
                             % (self.service, versions, VERSION))
        if self._refused >= GIVE_UP_AFTER:
            raise SystemExit("%s: READY refused %d times in a row, giving up: %s"
                             % (self.service, self._refused, reason))
        # At most one READY per interval (SPEC 8): the next tick sends it.
        self._need_ready = True

    def _on_deliver(self, f):
        route, corr, command = f["route"], f["corr"], f["command"]
        started = time.monotonic()
        handler = self.handlers.get(command)
        if handler is None:
            self._error(route, corr, "UNKNOWN_COMMAND",
                        "service %s has no command %s" % (self.service, command))
            return
        try:
            body = decode_body(f["body"])
        except _BadMessage as e:
            self._error(route, corr, e.code, "%s: %s" % (command, e.message))
            return
        try:
            reply = handler(body)
            if reply is None:
                reply = {}
            raw = encode_body(reply)
            if len(raw) > MAX_BODY:
                raise ActorError("INTERNAL", "%s: the reply is %d bytes, the limit is %d"
                                 % (command, len(raw), MAX_BODY))
        except ActorError as e:
            self._error(route, corr, e.code, e.message)
            return
        except Exception as e:  # a bug in the handler: the caller still gets an answer
            self.log("%s failed: %s: %s" % (command, type(e).__name__, e))
            self._error(route, corr, "INTERNAL", "%s failed: %s" % (command, e))
            return
        if (time.monotonic() - started) * 1000 > f["timeout"]:
            self.debug("%s answered past its deadline; the broker drops it" % command)
        self.handled += 1
        self._answer(A_REPLY, route, corr, raw)

    def _tick(self):
        if time.monotonic() > self._broker_expiry:
            self.log("the broker at %s is silent; reconnecting" % self.endpoint)
            self._connect()
        elif self._need_ready:
            self._send_ready()
        else:
            self._send(encode_heartbeat())

    def _on_signal(self, signum, frame):
        self._stop = signal.Signals(signum).name

    def run(self):
        """Serves until SIGTERM or SIGINT, then says DISCONNECT; returns 0
        (SystemExit with a sentence if the broker refuses us for good).
        Call it on the main thread: it takes over those two signals."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_fd = signal.set_wakeup_fd(wake_w.fileno())
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        self._poller = zmq.Poller()
        self._poller.register(wake_r.fileno(), zmq.POLLIN)
        self._connect()
        self.log("instance %s serving via %s%s" % (
            self.instance, self.endpoint,
            " keys " + ",".join(self.keys) if self.keys else ""))
        next_tick = time.monotonic() + self.heartbeat_ms / 1000
        try:
            while self._stop is None:
                wait = max(0, int((next_tick - time.monotonic()) * 1000))
                try:
                    events = dict(self._poller.poll(wait))
                except zmq.ZMQError as e:
                    if e.errno == zmq.EINTR:
                        continue
                    raise
                if wake_r.fileno() in events:
                    try:
                        wake_r.recv(64)
                    except BlockingIOError:
                        pass
                dealer = self._dealer
                if dealer in events:
                    # Up to 100 at a time, so that the heartbeat gets its turn.
                    for _ in range(100):
                        if self._stop is not None or dealer is not self._dealer:
                            break
                        try:
                            frames = dealer.recv_multipart(zmq.NOBLOCK, copy=True)
                        except zmq.Again:
                            break
                        self._on_frames(frames)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.heartbeat_ms / 1000
                    self._tick()
            self.log("stopping on %s" % self._stop)
            self._send(encode_disconnect("%s %s is stopping (%s)"
                                         % (self.service, self.instance, self._stop)))
            self._dealer.close(linger=1000)
            self._dealer = None
            return 0
        finally:
            if self._dealer is not None:
                self._dealer.close(linger=0)
                self._dealer = None
            for s, handler in old.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(old_fd)
            wake_r.close()
            wake_w.close()


def main(argv):
    """python3 flotilla_actor.py ENDPOINT [SERVICE [INSTANCE]]: an echo
    actor (Echo answers its body) under SERVICE, default pyecho."""
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: %s ENDPOINT [SERVICE [INSTANCE]]\n" % argv[0])
        return 2
    actor = Actor(argv[1], argv[2] if len(argv) > 2 else "pyecho",
                  instance=argv[3] if len(argv) > 3 else None,
                  handlers={"Echo": lambda body: body})
    return actor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
