// bee-queue's real flow against the server on 127.0.0.1:PORT (run by
// test/integration/test_jobqueues.py); prints one JSON line. Exits 2 after
// DEADLINE_MS.
//   node beequeue_flow.js PORT polling
//     No pub/sub: getEvents, sendEvents and activateDelayedJobs off (bee-queue
//     then never SUBSCRIBEs or PUBLISHes). Saves jobs one by one and with
//     saveAll, a job that fails once and is retried (immediate backoff: a
//     LPUSH, where a delayed backoff would PUBLISH), a job that fails every
//     attempt; the worker's results come from the handler, the stored
//     statuses from getJob (storeJobs off: read from the server) and
//     checkHealth, polled until all are done.
//   node beequeue_flow.js PORT events
//     bee-queue's defaults plus activateDelayedJobs: the producer learns
//     each result from the job's 'succeeded'/'failed' events (SUBSCRIBE and
//     PUBLISH on bq:NAME:events), a delayed job and a retry with a fixed
//     backoff wake the worker through bq:NAME:earlierDelayed.
'use strict';
const Queue = require('bee-queue');

const DEADLINE_MS = 40000;
const port = Number(process.argv[2]);
const mode = process.argv[3];
const redis = { host: '127.0.0.1', port };

setTimeout(() => {
  console.error('beequeue_flow: deadline passed');
  process.exit(2);
}, DEADLINE_MS).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function polling() {
  const opts = { redis, getEvents: false, sendEvents: false, activateDelayedJobs: false };
  const producer = new Queue('bq1', Object.assign({ isWorker: false, storeJobs: false }, opts));
  const worker = new Queue('bq1', Object.assign({}, opts));
  await producer.ready();
  await worker.ready();
  const results = {};
  const attempts = {};
  worker.process(2, async (job) => {
    attempts[job.id] = (attempts[job.id] || 0) + 1;
    const d = job.data;
    if (d.kind === 'add') return (results[job.id] = d.a + d.b);
    if (d.kind === 'flaky' && attempts[job.id] === 1) throw new Error('first attempt fails');
    if (d.kind === 'flaky') return (results[job.id] = 'ok on attempt ' + attempts[job.id]);
    throw new Error('always fails');
  });
  worker.on('error', (e) => console.error('worker error:', e.message));

  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push((await producer.createJob({ kind: 'add', a: i, b: 10 * i }).save()).id);
  }
  const bulk = [producer.createJob({ kind: 'add', a: 100, b: 1 }), producer.createJob({ kind: 'add', a: 200, b: 2 })];
  const errs = await producer.saveAll(bulk);
  if (errs.size) throw new Error('saveAll: ' + [...errs.values()].join(', '));
  for (const j of bulk) ids.push(j.id);
  const flaky = await producer.createJob({ kind: 'flaky' }).retries(2).backoff('immediate').save();
  const bad = await producer.createJob({ kind: 'bad' }).retries(1).backoff('immediate').save();

  let health;
  const until = Date.now() + 20000;
  for (;;) {
    health = await producer.checkHealth();
    if (health.succeeded + health.failed >= ids.length + 2 || Date.now() > until) break;
    await sleep(50);
  }
  const out = {
    adds: ids.map((id) => results[id]),
    flaky: results[flaky.id],
    flakyAttempts: attempts[flaky.id],
    badAttempts: attempts[bad.id],
    health,
    statuses: {},
  };
  for (const id of [...ids, flaky.id, bad.id]) out.statuses[id] = (await producer.getJob(id)).status;
  out.failedIds = (await producer.getJobs('failed', { size: 10 })).map((j) => j.id);
  await worker.close(5000);
  await producer.close(5000);
  console.log(JSON.stringify(out));
}

async function events() {
  const producer = new Queue('bq2', { redis, isWorker: false, activateDelayedJobs: true });
  const worker = new Queue('bq2', { redis, activateDelayedJobs: true });
  await producer.ready();
  await worker.ready();
  const attempts = {};
  worker.process(async (job) => {
    attempts[job.id] = (attempts[job.id] || 0) + 1;
    const d = job.data;
    if (d.kind === 'add') return d.a + d.b;
    if (d.kind === 'flaky' && attempts[job.id] === 1) throw new Error('first attempt fails');
    if (d.kind === 'flaky') return 'ok on attempt ' + attempts[job.id];
    if (d.kind === 'delayed') return Date.now();
    throw new Error('always fails');
  });
  const outcome = (job) => new Promise((resolve) => {
    job.on('succeeded', (v) => resolve(v));
    job.on('failed', (e) => resolve('failed: ' + e.message));
  });
  const t0 = Date.now();
  const jobs = [
    producer.createJob({ kind: 'add', a: 1, b: 2 }),
    producer.createJob({ kind: 'flaky' }).retries(2).backoff('fixed', 200),
    producer.createJob({ kind: 'delayed' }).delayUntil(t0 + 700),
    producer.createJob({ kind: 'bad' }),
  ];
  const done = [];
  for (const j of jobs) {
    await j.save();
    done.push(outcome(j));
  }
  const [add, flaky, delayedAt, bad] = await Promise.all(done);
  const out = { add, flaky, delayedWaitedMs: delayedAt - t0, bad, health: await producer.checkHealth() };
  await worker.close(5000);
  await producer.close(5000);
  console.log(JSON.stringify(out));
}

(mode === 'events' ? events() : polling()).then(() => process.exit(0), (e) => {
  console.error('beequeue_flow failed:', e && e.stack || e);
  process.exit(1);
});
