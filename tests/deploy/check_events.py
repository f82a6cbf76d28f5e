#!/usr/bin/env python3
"""check_events.py CONTRACT EVENTS [--expect TYPE ...] [--types]

Checks what `flotctl --json events` printed (EVENTS, one event a line)
against the events contract (CONTRACT, protocol/contracts/events.json):
every event's type is one the contract defines, its data has every required
field of that type's definition with the right JSON type and an allowed
value, names the event's deployment and target, `by` is empty but for the
events of an operator's command (SPEC 18), and each deployment has exactly one event of a type
that ends a deployment, its last. With --expect, each TYPE given must have
been seen; with --types, the types seen are printed. Exits 1 with a
sentence on the first event that is not as the contract says.
"""
import json
import sys


def main(argv):
    contract = json.load(open(argv[0]))
    events = [json.loads(line) for line in open(argv[1]) if line.strip()]
    expect = argv[argv.index("--expect") + 1:] if "--expect" in argv else []
    expect = [t for t in expect if not t.startswith("--")]
    defs = {e["type"]: e for e in contract["events"]}
    types = contract.get("types", {})
    enums = {name: e["values"] for name, e in contract.get("enums", {}).items()}

    def fits(value, t):
        if t.startswith("["):
            return isinstance(value, list) and all(fits(v, t[1:-1]) for v in value)
        if t == "str":
            return isinstance(value, str)
        if t == "uint":
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0
        if t == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if t == "bool":
            return isinstance(value, bool)
        if t == "double":
            return value is None or (isinstance(value, (int, float))
                                     and not isinstance(value, bool))
        if t in ("map", "strmap"):
            return isinstance(value, dict)
        if t == "any":
            return True
        return isinstance(value, dict) and check(value, types[t]["fields"], t)

    def check(data, fields, where):
        for f in fields:
            if f["name"] not in data:
                assert not f.get("required"), "%s: no field '%s'" % (where, f["name"])
                continue
            v = data[f["name"]]
            assert fits(v, f["type"]), "%s: field '%s' is %r, not a %s" % (
                where, f["name"], v, f["type"])
            allowed = f.get("enum")
            allowed = enums.get(allowed, allowed) if isinstance(allowed, str) else allowed
            if allowed:
                assert v in allowed, "%s: field '%s' is %r, not one of %s" % (
                    where, f["name"], v, allowed)
        return True

    seen, ends, last = set(), {}, {}
    REOPENING = ("deployment.retried", "target.skipped", "deployment.rolling_back")
    COMMANDED = ("deployment.started", "deployment.paused", "deployment.resumed",
                 "deployment.promoted", "deployment.aborting", "rollback.started",
                 "deployment.aborted", "deployment.queued", "deployment.retried",
                 "target.skipped", "deployment.rolling_back")
    for e in events:
        where = "event %d (%s of %s)" % (e["seq"], e["type"], e["deployment"])
        assert e["type"] in defs, "%s: type %s is not defined" % (where, e["type"])
        assert isinstance(e.get("message"), str) and e["message"], "%s: no message" % where
        data = e.get("data")
        assert isinstance(data, dict), "%s: no data" % where
        check(data, defs[e["type"]]["data"], where)
        assert data["deployment"] == e["deployment"], "%s: data names %s" % (
            where, data["deployment"])
        # Who caused it (SPEC 18): an operator's command names its caller
        # (whoever the test's flotctl is); what the coordinator does on its
        # own names nobody.
        if e["type"] not in COMMANDED or (e["type"] == "deployment.paused"
                                          and data.get("cause") != "operator"):
            assert data["by"] == "", "%s: by is %r for what no command caused" % (
                where, data["by"])
        if "target" in data or "target" in e:
            assert data.get("target") == e.get("target"), "%s: target %r, data.target %r" % (
                where, e.get("target"), data.get("target"))
        seen.add(e["type"])
        # An end comes once, but for an operator's command that takes an
        # ended deployment up again (Retry, Skip, Rollback): then once more.
        if e["type"] in REOPENING and ends.get(e["deployment"]):
            ends[e["deployment"]] -= 1
        if defs[e["type"]].get("ends"):
            ends[e["deployment"]] = ends.get(e["deployment"], 0) + 1
        last[e["deployment"]] = e
    for dep, e in last.items():
        assert ends.get(dep, 0) <= 1, "%s: %d events end it" % (dep, ends[dep])
        if ends.get(dep):
            assert defs[e["type"]].get("ends"), "%s: %s comes after its end" % (dep, e["type"])
    missing = sorted(set(expect) - seen)
    assert not missing, "types never seen: %s" % missing
    if "--types" in argv:
        print(" ".join(sorted(seen)))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except AssertionError as e:
        print("check_events: %s" % e, file=sys.stderr)
        sys.exit(1)
