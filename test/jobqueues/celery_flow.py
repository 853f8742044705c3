"""The client side of Celery's flow in test/integration/test_jobqueues.py,
run while a worker of celery_app (this folder) serves the same JQ_BROKER and
JQ_BACKEND: a task, a group, a chord, a task retried once, a failing task.
Prints one JSON line with the results; exits non-zero on the first error.

    JQ_BROKER=... JQ_BACKEND=... python3 celery_flow.py
"""
import json

from celery import chord, group

import celery_app as ca

TIMEOUT = 30
out = {
    "add": ca.add.delay(2, 3).get(timeout=TIMEOUT),
    "group": group(ca.add.s(i, i) for i in range(5))().get(timeout=TIMEOUT),
    # A list, not a generator: without a native chord (the file backend),
    # Celery reads the header twice.
    "chord": chord([ca.add.s(i, 1) for i in range(4)], ca.tsum.s())().get(timeout=TIMEOUT),
    "flaky": ca.flaky.delay("ok").get(timeout=TIMEOUT),
}
failing = ca.fails.delay()
try:
    failing.get(timeout=TIMEOUT)
    out["fails"] = "no error"
except ValueError as e:
    out["fails"] = "ValueError: %s" % e
out["failsState"] = failing.state
print(json.dumps(out))
