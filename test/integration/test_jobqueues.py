"""The job-queue frameworks that run on Redis, each running its real flow
(producer, the framework's own worker process, results) against a
tessera-server with 2 threads (3 in the slow runs), so that their keys, Lua
scripts and MULTI blocks spread over shards (issue 14).

  BullMQ     node test/jobqueues/bullmq_flow.js: Queue, Worker, QueueEvents
             (XREAD BLOCK), delays, retries, priorities, flows, schedulers
  bee-queue  node test/jobqueues/beequeue_flow.js: without pub/sub (polling),
             and with its default events (pub/sub: issue 16)
  RQ         `rq worker --burst --with-scheduler` subprocesses: results,
             dependencies, retries, the failed registry, a scheduled job;
             worker commands (pub/sub: issue 16)
  Celery     `celery worker -P threads`: Redis as broker with results in
             files; Redis as broker and result backend (pub/sub: issue 16)
  Sidekiq    `sidekiq -r test/jobqueues/sidekiq_flow.rb`: jobs, a scheduled
             job, a retry, the dead set, Sidekiq's counters

The packages come from scripts/deps.sh test (Debian) and scripts/npm_deps.sh
(BullMQ and bee-queue, pinned in test/jobqueues/package-lock.json); a test
whose framework is missing skips itself. Every subprocess runs in its own
process group, under a deadline, and is killed when its test ends.
"""
import contextlib
import datetime
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, start_tessera
from tessera_testlib import known_bug

JQ = os.path.join(ROOT, "test", "jobqueues")

THREADS = [2, pytest.param(3, marks=pytest.mark.slow)]


def need_module(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.skip("%s not installed (scripts/deps.sh test)" % name)


def need_exe(name):
    exe = shutil.which(name)
    if not exe:
        pytest.skip("%s not installed (scripts/deps.sh test)" % name)
    return exe


def need_node_package(name):
    need_exe("node")
    if not os.path.isdir(os.path.join(JQ, "node_modules", name)):
        pytest.skip("%s not installed (scripts/npm_deps.sh)" % name)


def kill_group(proc, sig=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def run(argv, timeout, **kw):
    """Runs argv to completion in its own process group; its stdout. Fails
    (after killing the group) when it runs past timeout seconds or exits
    non-zero."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        pytest.fail("%s ran past %ss\nstdout: %s\nstderr: %s" % (argv, timeout, out[-2000:], err[-3000:]))
    finally:
        kill_group(proc)  # whatever it left behind
    assert proc.returncode == 0, "%s exited %s\nstdout: %s\nstderr: %s" % (
        argv, proc.returncode, out[-2000:], err[-3000:])
    return out


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


@contextlib.contextmanager
def background(argv, log, **kw):
    """argv running in its own process group, its output in the file log,
    for the with block; then SIGTERM to the group (SIGKILL after 15 s).
    Yields the Popen."""
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    try:
        yield proc
    finally:
        kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait()


def log_tail(path, n=3000):
    with open(path, errors="replace") as f:
        return f.read()[-n:]


@pytest.fixture(params=THREADS, ids=lambda n: "threads%d" % n)
def tessera(request, tmp_path):
    srv = start_tessera(tmp_path, threads=request.param)
    yield srv
    assert srv.stop() == 0, "tessera-server exited with %s" % srv.proc.returncode


@pytest.fixture
def tessera2(tmp_path):
    """Tessera with 2 threads, for the tests of a feature it lacks."""
    srv = start_tessera(tmp_path, threads=2)
    yield srv
    srv.stop()


# ---------- BullMQ ----------

def test_bullmq(tessera):
    need_node_package("bullmq")
    res = last_json(run(["node", "bullmq_flow.js", str(tessera.port)], 60, cwd=JQ))
    b = res["basic"]
    assert b["adds"] == [0, 11, 22, 33, 44]
    assert b["bulk"] == [101, 202]
    assert b["delayedStateBefore"] == "delayed"
    assert b["delayedWaitedMs"] >= 700
    assert (b["flaky"], b["flakyAttempts"]) == ("ok on attempt 2", 2)
    assert (b["bad"], b["badAttemptsMade"], b["badFailedReason"]) == ("always fails", 2, "always fails")
    assert b["counts"] == {"completed": 9, "failed": 1, "delayed": 0, "wait": 0, "active": 0}
    assert b["completedEvents"] == 9
    m = res["more"]
    assert m["paused"] is True
    assert m["countsWhilePaused"] == {"wait": 0, "prioritized": 3, "completed": 0}
    assert m["workers"] == 1
    assert m["order"] == [0, 1, 3, 5]
    assert m["progress"] == [50, 100]
    assert m["parent"] == 12
    assert m["schedulers"] == 1
    assert m["counts"] == {"active": 0, "completed": 12, "delayed": 0, "failed": 0, "paused": 0,
                           "prioritized": 0, "waiting": 0, "waiting-children": 0}
    assert m["completedNames"] == ["child"] * 3 + ["parent"] + ["prio"] * 4 + ["progress"] + ["rep"] * 3
    assert m["cleaned"] == 12
    assert m["keysAfterObliterate"] == []


# ---------- bee-queue ----------

def test_beequeue_without_pubsub(tessera):
    need_node_package("bee-queue")
    res = last_json(run(["node", "beequeue_flow.js", str(tessera.port), "polling"], 60, cwd=JQ))
    assert res["adds"] == [0, 11, 22, 33, 101, 202]
    assert (res["flaky"], res["flakyAttempts"], res["badAttempts"]) == ("ok on attempt 2", 2, 2)
    assert res["health"] == {"waiting": 0, "active": 0, "succeeded": 7, "failed": 1, "delayed": 0,
                             "newestJob": 8}
    assert res["statuses"] == dict({str(i): "succeeded" for i in range(1, 8)}, **{"8": "failed"})
    assert res["failedIds"] == ["8"]


@known_bug("issue 16: bee-queue's job events and delayed jobs need SUBSCRIBE and PUBLISH")
def test_beequeue_events(tessera2):
    need_node_package("bee-queue")
    res = last_json(run(["node", "beequeue_flow.js", str(tessera2.port), "events"], 60, cwd=JQ))
    assert res["add"] == 3
    assert res["flaky"] == "ok on attempt 2"
    assert res["delayedWaitedMs"] >= 700
    assert res["bad"] == "failed: always fails"
    assert (res["health"]["succeeded"], res["health"]["failed"]) == (3, 1)


# ---------- RQ ----------

def rq_burst(srv, tmp_path, name):
    """One `rq worker --burst --with-scheduler` run to its end (it first moves
    the scheduled jobs that are due to the queue); its log."""
    log = str(tmp_path / ("rq-%s.log" % name))
    with background([sys.executable, "-m", "rq.cli", "worker", "--burst", "--with-scheduler",
                     "--url", "redis://127.0.0.1:%d/0" % srv.port, "--name", name, "default"],
                    log, cwd=str(tmp_path)) as w:
        try:
            rc = w.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("rq worker --burst ran past 60 s\n" + log_tail(log))
    assert rc == 0, log_tail(log)
    return log


def test_rq(tessera, tmp_path):
    rq = need_module("rq")
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
    r = tessera.client()
    q = rq.Queue("default", connection=r)
    adds = [q.enqueue("operator.add", i, 10 * i) for i in range(5)]
    after = q.enqueue("operator.mul", 6, 7, depends_on=adds[-1])
    bad = q.enqueue("operator.truediv", 1, 0, retry=rq.Retry(max=1))
    # RQ keeps whole seconds: due 3 s from now, the first burst (well under
    # a second) leaves it scheduled and the second runs it.
    due = int(time.time()) + 3
    later = q.enqueue_at(datetime.datetime.fromtimestamp(due, datetime.timezone.utc), "operator.sub", 50, 8)
    assert after.get_status() == "deferred"
    assert later.get_status() == "scheduled"

    log = rq_burst(tessera, tmp_path, "first")
    assert [j.get_status(refresh=True) for j in adds] == ["finished"] * 5, log_tail(log)
    assert [j.return_value() for j in adds] == [0, 11, 22, 33, 44]
    assert (after.get_status(refresh=True), after.return_value()) == ("finished", 42)
    bad.refresh()
    assert bad.get_status() == "failed"
    assert "ZeroDivisionError" in bad.latest_result().exc_string  # RQ's results stream (XADD)
    assert bad.retries_left == 0  # it ran twice
    assert FailedJobRegistry(queue=q).get_job_ids() == [bad.id]
    assert len(FinishedJobRegistry(queue=q)) == 6
    if time.time() < due:
        assert ScheduledJobRegistry(queue=q).get_job_ids() == [later.id]
        assert later.get_status(refresh=True) == "scheduled"

    time.sleep(max(0.0, due + 0.2 - time.time()))
    log = rq_burst(tessera, tmp_path, "second")
    assert (later.get_status(refresh=True), later.return_value()) == ("finished", 42), log_tail(log)
    assert ScheduledJobRegistry(queue=q).get_job_ids() == []
    assert len(FinishedJobRegistry(queue=q)) == 7
    assert len(q) == 0
    assert rq.Worker.all(connection=r) == []  # both burst workers unregistered


@known_bug("issue 16: RQ's worker commands are PUBLISHed to rq:pubsub:<worker>, which the worker SUBSCRIBEs to")
def test_rq_worker_shutdown_command(tessera2, tmp_path):
    rq = need_module("rq")
    from rq.command import send_shutdown_command
    r = tessera2.client()
    log = str(tmp_path / "rq-worker.log")
    with background([sys.executable, "-m", "rq.cli", "worker", "--url", "redis://127.0.0.1:%d/0" % tessera2.port,
                     "--name", "w1", "default"], log, cwd=str(tmp_path)) as w:
        deadline = time.time() + 20
        while not rq.Worker.all(connection=r) and time.time() < deadline:
            time.sleep(0.05)
        assert [x.name for x in rq.Worker.all(connection=r)] == ["w1"], log_tail(log)
        time.sleep(0.5)  # its pub/sub thread subscribes after it registers
        send_shutdown_command(r, "w1")
        try:
            w.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker ignored the shutdown command\n" + log_tail(log))
    assert rq.Worker.all(connection=r) == []


# ---------- Celery ----------

def celery_flow(tmp_path, broker, backend):
    """A worker of test/jobqueues/celery_app.py (threads pool) serving
    broker and backend while test/jobqueues/celery_flow.py (the client)
    runs; the client's results."""
    need_module("celery")
    env = dict(os.environ, JQ_BROKER=broker, JQ_BACKEND=backend)
    log = str(tmp_path / "celery.log")
    with background([sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", "threads", "-c", "4",
                     "-l", "INFO", "-n", "jq@%h", "--without-mingle", "--without-gossip",
                     "--without-heartbeat"], log, env=env, cwd=JQ) as w:
        try:
            out = run([sys.executable, "celery_flow.py"], 150, env=env, cwd=JQ)
        except BaseException:
            print("celery worker log:\n" + log_tail(log))
            raise
        assert w.poll() is None, "the celery worker exited\n" + log_tail(log)
    return last_json(out)


CELERY_RESULTS = {"add": 5, "group": [0, 2, 4, 6, 8], "chord": 10, "flaky": "ok after 1 retry",
                  "fails": "ValueError: always fails", "failsState": "FAILURE"}


def test_celery_redis_broker(tessera, tmp_path):
    """Redis as Celery's broker (kombu's Redis transport: LPUSH/BRPOP, the
    unacked hash and index, MULTI); results in files, so that the Redis
    result backend's pub/sub stays out (test_celery_redis_result_backend);
    the chord then runs through celery.chord_unlock."""
    results = tmp_path / "results"
    results.mkdir()
    res = celery_flow(tmp_path, "redis://127.0.0.1:%d/0" % tessera.port, "file://%s" % results)
    assert res == CELERY_RESULTS
    assert tessera.client().llen("celery") == 0


@known_bug("issue 16: Celery's Redis result backend SUBSCRIBEs to celery-task-meta-<id> and stores each"
           " result with MULTI, SET, PUBLISH, EXEC")
def test_celery_redis_result_backend(tessera2, tmp_path):
    res = celery_flow(tmp_path, "redis://127.0.0.1:%d/0" % tessera2.port, "redis://127.0.0.1:%d/1" % tessera2.port)
    assert res == CELERY_RESULTS


# ---------- Sidekiq ----------

def test_sidekiq(tessera, tmp_path):
    need_exe("ruby")
    sidekiq = need_exe("sidekiq")
    flow = os.path.join(JQ, "sidekiq_flow.rb")
    env = dict(os.environ, REDIS_URL="redis://127.0.0.1:%d/0" % tessera.port)
    jids = last_json(run(["ruby", flow, "push"], 30, env=env, cwd=JQ))
    assert (jids["scheduled_size"], jids["enqueued"]) == (1, 8)
    log = str(tmp_path / "sidekiq.log")
    with background([sidekiq, "-r", flow, "-c", "2", "-t", "2"], log, env=env, cwd=JQ) as sk:
        # Sidekiq's scheduler first sleeps up to 5 s, then polls every second.
        done = last_json(run(["ruby", flow, "wait", "40", json.dumps(jids)], 60, env=env, cwd=JQ))
        kill_group(sk, signal.SIGTERM)
        try:
            rc = sk.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("sidekiq did not stop on SIGTERM\n" + log_tail(log))
    assert rc == 0, log_tail(log)
    results, runs = done["results"], done["runs"]
    assert [results.get(j) for j in jids["add"]] == [0, 11, 22, 33], log_tail(log)
    assert [results.get(j) for j in jids["bulk"]] == [101, 202]
    assert results.get(jids["scheduled"], 0) >= 1.95  # perform_in(2)
    assert results.get(jids["flaky"]) == "ok on attempt 2"
    assert jids["dead"] not in results
    assert sorted(runs.values()) == [1] * 8 + [2]  # each job once, the flaky one twice
    stats = last_json(run(["ruby", flow, "stats"], 30, env=env, cwd=JQ))
    assert stats == {"processed": 10, "failed": 2, "scheduled_size": 0, "retry_size": 0,
                     "dead": [[jids["dead"], "DeadJob", "always fails"]], "enqueued": 0, "processes": 0}
