// Load generator for the raw net echo: frames [u32 length][64-byte body, u32 id first].
// All frames issued while handling one 'data' event leave in one write (batched).
import net from 'node:net';
import { once } from 'node:events';
import { runLoad } from '../../src/bench/load-generator.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';

const f = flags(process.argv.slice(2));
const socket = net.connect({ host: '127.0.0.1', port: Number(f['port']), noDelay: true });
await once(socket, 'connect');
const waiting = new Map<number, () => void>();
let nextId = 1;
let out: Buffer[] = [];
let scheduled = false;
const flush = (): void => {
  scheduled = false;
  socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  out = [];
};
let pending: Buffer | undefined;
socket.on('data', (chunk: Buffer) => {
  const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
  let pos = 0;
  while (buf.length - pos >= 8) {
    const len = buf.readUInt32BE(pos);
    if (buf.length - pos < 4 + len) break;
    const id = buf.readUInt32BE(pos + 4);
    const done = waiting.get(id);
    waiting.delete(id);
    done?.();
    pos += 4 + len;
  }
  pending = pos < buf.length ? buf.subarray(pos) : undefined;
});
const call = (): Promise<void> =>
  new Promise((resolve) => {
    const id = nextId++;
    const frame = Buffer.alloc(68);
    frame.writeUInt32BE(64, 0);
    frame.writeUInt32BE(id, 4);
    waiting.set(id, resolve);
    out.push(frame);
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
  });
await call();
const warmupMs = Number(f['warmup'] ?? 1000);
await measure(Number(f['pid']), warmupMs, async (onStart) => {
  setTimeout(onStart, warmupMs);
  return (await runLoad(call, { concurrency: Number(f['concurrency']), durationMs: Number(f['duration'] ?? 5000), warmupMs })).result;
});
socket.destroy();
