/**
 * A bench server under an event-loop watch, for `node dist/bench/attacks.js --server
 * dist/bench/servers/loop-delay.js`. It runs the server script named by `LOOP_DELAY_INNER`
 * in this process (default: this build's ringrpc-server, with the same flags). When the
 * process exits, it writes one JSON line to stderr. The line holds
 * `perf_hooks.monitorEventLoopDelay`'s p50/p99/max in ms, which include its 5 ms period,
 * and every stall: a gap of 25 ms or more in a 5 ms interval timer, as
 * `[ms since start, gap − 5 ms]`.
 *
 * To compare builds, point `LOOP_DELAY_INNER` at another checkout's compiled
 * `bench/servers/ringrpc-server.js`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();
const stalls: Array<[number, number]> = [];
const start = performance.now();
let last = start;
setInterval(() => {
  const now = performance.now();
  if (now - last >= 25) stalls.push([Math.round(last - start), Math.round(now - last - 5)]);
  last = now;
}, 5).unref();

process.on('exit', () => {
  histogram.disable();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  const delay = { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), stalls };
  process.stderr.write(`LOOP DELAY ${JSON.stringify(delay)}\n`);
});

const inner = process.env['LOOP_DELAY_INNER'] ?? new URL('./ringrpc-server.js', import.meta.url).pathname;
await import(pathToFileURL(inner).href);
