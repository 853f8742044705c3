// BullMQ's real flow against the server on 127.0.0.1:PORT (run by
// test/integration/test_jobqueues.py): Queues, Workers and QueueEvents
// (XREAD BLOCK on the events stream); every job waited for through
// QueueEvents. Prints one JSON line {basic, more}. Exits 2 after DEADLINE_MS.
//   basic: plain jobs (add, addBulk), a delayed job, a job that fails once
//     and succeeds on its retry, one that fails every attempt; results and
//     the queue's counts.
//   more: a paused queue filled with prioritized jobs, then resumed (the
//     order they ran in), progress events, a flow (a parent that sums its
//     children's results), a job scheduler repeating 3 times, getWorkers
//     (CLIENT SETNAME / CLIENT LIST), clean and obliterate.
//   node bullmq_flow.js PORT
'use strict';
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const DEADLINE_MS = 40000;
const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const name = 'tq';

setTimeout(() => {
  console.error('bullmq_flow: deadline passed');
  process.exit(2);
}, DEADLINE_MS).unref();

async function basic() {
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const completedEvents = [];
  events.on('completed', ({ jobId }) => completedEvents.push(jobId));

  const attemptsSeen = {};
  const worker = new Worker(name, async (job) => {
    attemptsSeen[job.id] = job.attemptsMade + 1;
    if (job.name === 'add') return job.data.a + job.data.b;
    if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error('first attempt fails');
    if (job.name === 'flaky') return 'ok on attempt ' + (job.attemptsMade + 1);
    if (job.name === 'bad') throw new Error('always fails');
    if (job.name === 'delayed') return Date.now();
    throw new Error('unknown job ' + job.name);
  }, { connection, concurrency: 2 });
  worker.on('error', (e) => console.error('worker error:', e.message));

  const adds = [];
  for (let i = 0; i < 5; i++) adds.push(await queue.add('add', { a: i, b: 10 * i }));
  const bulk = await queue.addBulk([
    { name: 'add', data: { a: 100, b: 1 } },
    { name: 'add', data: { a: 200, b: 2 } },
  ]);
  const t0 = Date.now();
  const delayed = await queue.add('delayed', {}, { delay: 700 });
  const stateBefore = await delayed.getState();
  const flaky = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  const bad = await queue.add('bad', {}, { attempts: 2 });

  const out = { adds: [], bulk: [], delayedStateBefore: stateBefore };
  for (const j of adds) out.adds.push(await j.waitUntilFinished(events, 20000));
  for (const j of bulk) out.bulk.push(await j.waitUntilFinished(events, 20000));
  const ranAt = await delayed.waitUntilFinished(events, 20000);
  out.delayedWaitedMs = ranAt - t0;
  out.flaky = await flaky.waitUntilFinished(events, 20000);
  try {
    await bad.waitUntilFinished(events, 20000);
    out.bad = 'completed';
  } catch (e) {
    out.bad = e.message;
  }
  const badJob = await queue.getJob(bad.id);
  out.badAttemptsMade = badJob.attemptsMade;
  out.badFailedReason = badJob.failedReason;
  out.flakyAttempts = attemptsSeen[flaky.id];
  out.counts = await queue.getJobCounts('completed', 'failed', 'delayed', 'wait', 'active');
  out.completedEvents = completedEvents.length;
  await worker.close();
  await events.close();
  await queue.close();
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function more() {
  const out = {};
  const queue = new Queue('tq2', { connection });
  const events = new QueueEvents('tq2', { connection });
  await events.waitUntilReady();
  const progress = [];
  events.on('progress', ({ data }) => progress.push(data));
  await queue.pause();
  out.paused = await queue.isPaused();
  const prio = [];
  for (const p of [5, 1, 3]) prio.push(await queue.add('prio', { p }, { priority: p }));
  prio.push(await queue.add('prio', { p: 0 }));
  const order = [];
  const worker = new Worker('tq2', async (job) => {
    if (job.name === 'prio') return order.push(job.data.p);
    if (job.name === 'progress') {
      await job.updateProgress(50);
      await job.updateProgress(100);
      return 'done';
    }
    if (job.name === 'child') return job.data.v * 2;
    if (job.name === 'parent') {
      const values = Object.values(await job.getChildrenValues());
      return values.reduce((a, b) => a + b, 0);
    }
    if (job.name === 'rep') return 'rep';
    throw new Error('unknown job ' + job.name);
  }, { connection, concurrency: 1 });
  await worker.waitUntilReady();
  await sleep(300);
  out.countsWhilePaused = await queue.getJobCounts('wait', 'prioritized', 'completed');
  out.workers = (await queue.getWorkers()).length;
  await queue.resume();
  for (const j of prio) await j.waitUntilFinished(events, 20000);
  out.order = order;
  await (await queue.add('progress', {})).waitUntilFinished(events, 20000);
  out.progress = progress;
  const flow = new FlowProducer({ connection });
  const tree = await flow.add({
    name: 'parent', queueName: 'tq2',
    children: [1, 2, 3].map((v) => ({ name: 'child', queueName: 'tq2', data: { v } })),
  });
  out.parent = await tree.job.waitUntilFinished(events, 20000);
  await queue.upsertJobScheduler('every', { every: 200, limit: 3 }, { name: 'rep' });
  const until = Date.now() + 20000;
  while ((await queue.getJobCounts('completed')).completed < 12 && Date.now() < until) await sleep(50);
  out.schedulers = (await queue.getJobSchedulers()).length;
  out.counts = await queue.getJobCounts();
  out.completedNames = (await queue.getCompleted(0, 100)).map((j) => j.name).sort();
  out.cleaned = (await queue.clean(0, 100, 'completed')).length;
  await worker.close();
  await flow.close();
  await events.close();
  await queue.obliterate({ force: true });
  out.keysAfterObliterate = await (await queue.client).keys('bull:tq2:*');
  await queue.close();
  return out;
}

async function main() {
  const out = { basic: await basic(), more: await more() };
  console.log(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => {
  console.error('bullmq_flow failed:', e && e.stack || e);
  process.exit(1);
});
