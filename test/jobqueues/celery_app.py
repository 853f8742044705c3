"""The Celery app test/integration/test_jobqueues.py runs, in its worker
(python3 -m celery -A celery_app worker, with this folder as the working
directory) and in the test (which imports it with this folder on sys.path).

Environment (read at import, the same in both processes):
  JQ_BROKER   broker URL, redis://127.0.0.1:PORT/0
  JQ_BACKEND  result backend URL: redis://127.0.0.1:PORT/1, or file:///DIR
              (results outside Redis, so that the broker's flow is tested
              without the Redis backend's pub/sub)

Remote control, gossip, mingle and events are off: over Redis they are
fanout exchanges, which kombu implements with PUBLISH and PSUBSCRIBE.
"""
import os

from celery import Celery

app = Celery("celery_app", broker=os.environ.get("JQ_BROKER"), backend=os.environ.get("JQ_BACKEND"))
app.conf.update(
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=False,
    result_expires=600,
)


@app.task
def add(a, b):
    return a + b


@app.task
def tsum(values):
    return sum(values)


@app.task(bind=True, max_retries=3, default_retry_delay=0.2)
def flaky(self, value):
    """Fails on its first run and succeeds when retried."""
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("first attempt fails"))
    return "%s after %d retry" % (value, self.request.retries)


@app.task
def fails():
    raise ValueError("always fails")
