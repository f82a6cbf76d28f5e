#!/usr/bin/env python3
# faults_check.py - the checks of one case of test_net_faults.sh.
#
# Reads the hook log the executors' record.sh wrote (one line when a run
# starts, one when it ends; a run killed on the way has no end, and its
# last sign of life is in ALIVE_DIR/DEPLOYMENT.PID) and the whole event
# stream (`flotctl --json events`: one JSON object a line), and checks for
# DEPLOYMENT what issue 12's acceptance asks of every fault:
#   - the event stream has no gap (seq consecutive, each once), and the
#     deployment's events end with deployment.completed, with no failure,
#     rollback or skip among them;
#   - no rollback step ran, and every step's last run ended;
#   - no (step, attempt) started twice, and no two runs of one step overlap
#     in time (a run starts only after the step's earlier runs ended or died);
#   - a run that never ended (its executor killed it) has a step.orphaned
#     event for its attempt, and the step ran again as a later attempt.
# Prints one line saying what it saw (runs, waits, orphans); on a violation
# prints each, with the deployment's runs and events, and exits 1.
#
# Usage: faults_check.py HOOK_LOG EVENTS_JSONL ALIVE_DIR DEPLOYMENT
import collections
import json
import os
import sys

TICK_NS = 100_000_000          # record.sh writes its sign of life this often
BAD = ("deployment.aborted", "deployment.aborting", "deployment.failed",
       "deployment.failing", "deployment.rolled_back", "deployment.rolling_back",
       "rollback.started", "rollback.completed", "rollback.failed",
       "step.failed", "target.failed", "target.skipped")


def main():
    log, events_path, alive_dir, dep = sys.argv[1:5]
    problems = []

    events = []
    with open(events_path) as f:
        for line in f:
            if line.strip().startswith("{"):
                events.append(json.loads(line))
    seqs = [e["seq"] for e in events]
    if not seqs:
        problems.append("the events service holds no event")
    for a, b in zip(seqs, seqs[1:]):
        if b != a + 1:
            problems.append(f"the event stream has a gap or a repeat: seq {a}, then {b}")
    mine = [e for e in events if e.get("deployment") == dep]
    if not mine:
        problems.append(f"no event of {dep}")
    elif mine[-1]["type"] != "deployment.completed":
        problems.append(f"the last event of {dep} is {mine[-1]['type']}, "
                        "not deployment.completed")
    for e in mine:
        if e["type"] in BAD:
            problems.append(f"event #{e['seq']} {e['type']}: {e.get('message', '')}")
    orphaned = {(e["data"]["step"], e["data"]["attempt"])
                for e in mine if e["type"] == "step.orphaned"}
    waits = [e for e in mine if e["type"] == "step.waiting"]

    # The runs: (step, attempt, pid) -> facts.
    runs = {}
    with open(log) as f:
        for line in f:
            w = line.split()
            if len(w) != 8 or w[1] != dep:
                continue
            what, _, step, stype, attempt, pid, host, ns = w
            key = (step, int(attempt), int(pid), host)
            run = runs.setdefault(key, {"step": step, "type": stype, "attempt": int(attempt),
                                        "pid": int(pid), "host": host, "start": None,
                                        "end": None, "starts": 0})
            if what == "start":
                run["start"] = int(ns)
                run["starts"] += 1
            elif what == "end":
                run["end"] = int(ns)
    for run in runs.values():
        run["died"] = run["end"] is None
        if run["died"]:
            # Killed on the way: it lived until its last sign of life, and at
            # most one tick more.
            try:
                with open(os.path.join(alive_dir, f"{dep}.{run['pid']}")) as f:
                    run["end"] = int(f.read().split()[0]) + TICK_NS
            except (OSError, ValueError, IndexError):
                run["end"] = run["start"] + TICK_NS

    by_step = collections.defaultdict(list)
    for run in runs.values():
        by_step[run["step"]].append(run)
        if run["type"] == "rollback" or run["step"].endswith("/rollback"):
            problems.append(f"a rollback step ran: {run['step']} attempt {run['attempt']} "
                            f"on {run['host']}")
        if run["start"] is None:
            problems.append(f"{run['step']} attempt {run['attempt']} (pid {run['pid']}) "
                            "ended without a start")
    attempts = collections.Counter((r["step"], r["attempt"]) for r in runs.values()
                                   for _ in range(max(r["starts"], 1)))
    for (step, attempt), n in sorted(attempts.items()):
        if n > 1:
            problems.append(f"{step} attempt {attempt} started {n} times")
    for step, rs in sorted(by_step.items()):
        rs = [r for r in rs if r["start"] is not None]
        rs.sort(key=lambda r: r["start"])
        for i, r in enumerate(rs):
            for earlier in rs[:i]:
                if earlier["end"] > r["start"]:
                    problems.append(
                        f"{step}: attempt {r['attempt']} on {r['host']} started "
                        f"{(earlier['end'] - r['start']) / 1e6:.0f} ms before attempt "
                        f"{earlier['attempt']} on {earlier['host']} "
                        f"{'died' if earlier['died'] else 'ended'}")
        if rs and rs[-1]["died"]:
            problems.append(f"{step}: its last run (attempt {rs[-1]['attempt']}) never ended")
        for r in rs:
            if not r["died"]:
                continue
            if (step, r["attempt"]) not in orphaned:
                problems.append(f"{step} attempt {r['attempt']} on {r['host']} was killed, "
                                "and no step.orphaned event says so")
            if not any(o["attempt"] > r["attempt"] and o["start"] > r["start"] for o in rs):
                problems.append(f"{step} attempt {r['attempt']} was killed, and the step did "
                                "not run again as a new attempt")
    for step, attempt in sorted(orphaned):
        if not any(r["step"] == step and r["attempt"] == attempt for r in runs.values()):
            problems.append(f"step.orphaned for {step} attempt {attempt}, which never started")

    died = sorted(f"{r['step']}#{r['attempt']}@{r['host']}" for r in runs.values() if r["died"])
    reasons = collections.Counter(e["data"].get("reason", "")[:60] for e in waits)
    print(f"  {len(runs)} runs on {len(by_step)} steps; {len(waits)} step.waiting"
          + "".join(f"\n    waited {n}x: {why}" for why, n in reasons.most_common(4))
          + f"\n  orphaned (events): {sorted(orphaned) or 'none'}; killed runs: {died or 'none'}")
    if problems:
        for p in problems:
            print(f"FAIL: {p}", file=sys.stderr)
        print(f"--- runs of {dep}:", file=sys.stderr)
        for r in sorted((r for r in runs.values() if r["start"]), key=lambda r: r["start"]):
            print(f"  {r['step']} #{r['attempt']} pid {r['pid']} on {r['host']}: "
                  f"{r['start']} .. {r['end']}{' (died)' if r['died'] else ''}", file=sys.stderr)
        print(f"--- events of {dep}:", file=sys.stderr)
        for e in mine:
            print(f"  #{e['seq']} {e['type']} {e.get('message', '')}", file=sys.stderr)
        sys.exit(1)


main()
