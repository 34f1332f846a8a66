// Loaded into `scigen build` by the bench harness (`node --expose-gc --require`, measureHeap):
// every few seconds it collects garbage and appends the main thread's live heap to the file
// SCIGEN_BENCH_HEAP_FILE names, one JSON line each. Live heap after a full collection is what grows
// when something is kept per problem; resident memory also moves with V8's own sizing of its heap,
// which is why a peak RSS alone cannot tell a leak.
'use strict';
const { appendFileSync } = require('node:fs');
const { isMainThread } = require('node:worker_threads');

const file = process.env.SCIGEN_BENCH_HEAP_FILE;
const INTERVAL_MS = 5000;
if (file && isMainThread && typeof globalThis.gc === 'function') {
  setInterval(() => {
    globalThis.gc();
    const sample = { ms: Date.now(), heapUsedBytes: process.memoryUsage().heapUsed };
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  }, INTERVAL_MS).unref();
}
