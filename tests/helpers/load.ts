import type { RpcError } from '../../src/index.js';

/** Closed-loop load: `concurrency` callers issuing calls until `stop()`; counts outcomes. */
export function load(call: () => Promise<unknown>, concurrency: number) {
  const tally = { ok: 0, failed: [] as RpcError[] };
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        await call();
        tally.ok++;
      } catch (err) {
        tally.failed.push(err as RpcError);
      }
    }
  });
  return {
    tally,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
