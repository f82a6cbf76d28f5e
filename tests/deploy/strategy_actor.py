#!/usr/bin/python3
"""strategy_actor.py - `pulse`, a custom deployment strategy served by a Python actor.

Registers service `strategy` claiming the routing key `pulse`, so that the
strategy service and the coordinator send it the requests of deployments
whose spec says `strategy: {pulse: {pauseMs: N}}`, and answers three
commands of the strategy contract (protocol/contracts/strategy.json):

  PlanSteps      every target applies (the hook, weight 100), then pauses
                 pauseMs (default 2000); a touched target is reverted by one
                 hooked `rollback` step. params holds only pauseMs, an
                 integer in 0..600000; anything else is INVALID.
  HandleFailure  retry after backoff_ms while attempt <= retries; then
                 failDeployment under failAll or past max_failures, else the
                 policy's own action (holdDependents, continue).
  ShouldPromote  a timed pause is over once its time is up; a pause of -1
                 needs a person; promoted ends either.

Each request it answers adds one line to the --log file, flushed, e.g.
"PlanSteps pulse 3", "ShouldPromote 2000 2001 promote",
"HandleFailure 1 0 failAll 1 0 failDeployment"; a refused one ends in
"INVALID". Used by tests/deploy/test_deploy_custom_strategy.sh.

    strategy_actor.py --broker tcp://127.0.0.1:5555 --log FILE [--instance NAME]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from flotilla_actor import Actor, ActorError, field, show  # noqa: E402

NAME = "pulse"
PAUSE_MS_DEFAULT = 2000
PAUSE_MS_MAX = 600000
ON_FAILURE = ("failAll", "holdDependents", "continue")


def plan_steps(body):
    field(body, "deployment", "str", required=True, min=1, max=64)
    strategy = field(body, "strategy", "str", required=True, min=1, max=64)
    targets = field(body, "targets", "uint", required=True, min=1, max=10000)
    if strategy != NAME:
        raise ActorError("INVALID", "strategy '%s': this actor serves only %s" % (strategy, NAME))
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise ActorError("INVALID", "%s is not a map (pulse takes pauseMs)" % show(params))
    for key in params:
        if key != "pauseMs":
            raise ActorError("INVALID", "%s: not an option of pulse, which takes only "
                             "pauseMs" % key)
    pause_ms = params.get("pauseMs", PAUSE_MS_DEFAULT)
    if (not isinstance(pause_ms, int) or isinstance(pause_ms, bool)
            or not 0 <= pause_ms <= PAUSE_MS_MAX):
        raise ActorError("INVALID", "pauseMs: %s is not an integer in 0..%d "
                         "(milliseconds)" % (show(pause_ms), PAUSE_MS_MAX))
    reply = {
        "steps": [
            {"type": "apply", "weight": 100, "hook": True},
            {"type": "pause", "duration_ms": pause_ms, "weight": 100, "hook": False},
        ],
        "rollback": [{"type": "rollback", "weight": 0, "hook": True}],
    }
    return reply, "%s %d" % (strategy, targets)


REFUSE_FAILURES = False         # --refuse-failures: HandleFailure answers INVALID


def handle_failure(body):
    if REFUSE_FAILURES:
        raise ActorError("INVALID", "this pulse actor was told to decide no failure")
    attempt = field(body, "attempt", "uint", required=True, min=1, max=1000)
    retries = field(body, "retries", "uint", required=True, max=100)
    backoff_ms = field(body, "backoff_ms", "uint", default=0, max=3600000)
    on_failure = field(body, "on_failure", "str", required=True, enum=ON_FAILURE)
    failed = field(body, "failed_targets", "uint", required=True, max=1000000)
    max_failures = field(body, "max_failures", "uint", default=0, max=1000000)
    if attempt <= retries:
        action, delay_ms = "retry", backoff_ms
    elif on_failure == "failAll" or failed > max_failures:
        action, delay_ms = "failDeployment", 0
    else:
        action, delay_ms = on_failure, 0
    summary = "%d %d %s %d %d %s" % (attempt, retries, on_failure, failed, max_failures, action)
    return {"action": action, "delay_ms": delay_ms}, summary


def should_promote(body):
    duration_ms = field(body, "duration_ms", "int", required=True, min=-1)
    elapsed_ms = field(body, "elapsed_ms", "uint", required=True, max=(1 << 63) - 1)
    promoted = field(body, "promoted", "bool", default=False)
    timed = duration_ms >= 0
    over = timed and elapsed_ms >= duration_ms
    promote = promoted or over
    reply = {
        "promote": promote,
        "needs_person": not timed,
        "wait_ms": duration_ms - elapsed_ms if timed and not over else 0,
    }
    summary = "%d %d %s" % (duration_ms, elapsed_ms, "promote" if promote else "wait")
    return reply, summary


class Log:
    """One line per answered request, flushed at once, so a test can read it
    while the actor runs, and after a kill -9."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1) if path else None

    def line(self, text):
        if self.file:
            self.file.write(text + "\n")
            self.file.flush()


def logged(log, command, handler):
    def serve(body):
        try:
            reply, summary = handler(body)
        except ActorError as e:
            log.line("%s %s: %s" % (command, e.code, e.message))
            raise
        log.line("%s %s" % (command, summary))
        return reply
    return serve


def main(argv):
    parser = argparse.ArgumentParser(description="the pulse strategy, served as an actor")
    parser.add_argument("--broker", default=os.environ.get("FLOTILLA_ENDPOINT",
                                                           "tcp://127.0.0.1:5555"),
                        help="the broker's endpoint (default $FLOTILLA_ENDPOINT)")
    parser.add_argument("--log", help="append one line per answered request here")
    parser.add_argument("--instance", help="the instance name (default strategy-pulse-PID)")
    parser.add_argument("--refuse-failures", action="store_true",
                        help="answer every HandleFailure INVALID (an answer that cannot be used)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv[1:])
    global REFUSE_FAILURES
    REFUSE_FAILURES = args.refuse_failures
    log = Log(args.log)
    handlers = {
        "PlanSteps": logged(log, "PlanSteps", plan_steps),
        "HandleFailure": logged(log, "HandleFailure", handle_failure),
        "ShouldPromote": logged(log, "ShouldPromote", should_promote),
    }
    actor = Actor(args.broker, "strategy", keys=[NAME],
                  instance=args.instance or "strategy-%s-%d" % (NAME, os.getpid()),
                  handlers=handlers, verbose=args.verbose)
    return actor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
