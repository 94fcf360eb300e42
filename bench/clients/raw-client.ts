// A raw-protocol ringrpc load client, written from the wire spec alone: no ringrpc client
// code, no promise or closure per call, every frame a connection issues in one turn of the
// event loop leaves in one write. It measures the server alone (the library client costs
// more per call than the server does: `npm run bench` shows both side by side).
//
//   --port --pid --concurrency 256 --connections 4 --duration --warmup
//   [--method echo|work --payload 64 --rounds n --kernel 0|1 --key k --metadata k=v]
//
// Closed loop: each connection keeps concurrency ÷ connections calls in flight; every
// response is timed (HDR histogram, µs) and answered by the next request. Prints RESULT.
import net from 'node:net';
import { once } from 'node:events';
import * as hdr from 'hdr-histogram-js';
import type { LoadResult } from '../../src/bench/load-generator.js';
import { statusName } from '../../src/status.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';
import { frame, lengthDelimited, metaStatus, utf8, varint } from '../lib/raw-protocol.js';
import { latencySummary } from '../lib/stream-tally.js';

const f = flags(process.argv.slice(2));
const HEADER = 16;
const REQUEST = 1;
const RESPONSE = 2;

function requestBody(): Uint8Array {
  const payload = new Uint8Array(Number(f['payload'] ?? 64)).fill(7);
  if (f['method'] !== 'work') return Uint8Array.from(lengthDelimited(1, payload)); // EchoRequest.payload
  const rounds = Number(f['rounds'] ?? 0);
  const kernel = Number(f['kernel'] ?? 0);
  return Uint8Array.from([...lengthDelimited(1, payload), 0x10, ...varint(rounds), 0x18, ...varint(kernel)]); // WorkRequest
}

function requestMeta(): Uint8Array {
  const bytes = [...lengthDelimited(1, utf8('bench.v1.Bench')), ...lengthDelimited(2, utf8(f['method'] === 'work' ? 'Work' : 'Echo'))];
  if (f['metadata'] !== undefined) {
    const [k, ...v] = f['metadata'].split('=');
    // map<string,string> entry: { 1: key, 2: value }
    bytes.push(...lengthDelimited(7, Uint8Array.from([...lengthDelimited(1, utf8(k!)), ...lengthDelimited(2, utf8(v.join('=')))])));
  }
  if (f['key'] !== undefined) bytes.push(...lengthDelimited(9, utf8(f['key'])));
  return Uint8Array.from(bytes);
}

/** One REQUEST frame; its request_id (bytes 4–7) is patched in place for each call. */
function requestFrame(): Buffer {
  return frame(REQUEST, 0, requestMeta(), requestBody());
}

const template = requestFrame();
const FRAME = template.length;
const concurrency = Number(f['concurrency'] ?? 256);
const connections = Math.min(concurrency, Number(f['connections'] ?? 4));
const durationMs = Number(f['duration'] ?? 5000);
const warmupMs = Number(f['warmup'] ?? 1000);
const SLOTS = 1 << 16; // in flight per connection stays far below: request_id & mask is unique

let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
let ok = 0;
let errors = new Map<number, number>();
let issuing = true;
let inFlight = 0;

/** One connection of the load: its own request ids, send times and output batch. */
class Connection {
  private readonly socket: net.Socket;
  private readonly sentAt = new Float64Array(SLOTS);
  private nextId = 1;
  private pending: Buffer | undefined;
  private batch: Buffer = Buffer.allocUnsafe(FRAME * 64);
  private batched = 0;
  private flushing = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      process.stderr.write(`raw-client: ${err.message}\n`);
      process.exit(1);
    });
  }

  async connected(): Promise<void> {
    await once(this.socket, 'connect');
  }

  /** Queues one request into this turn's batch. */
  send(): void {
    if (!issuing) return;
    if ((this.batched + 1) * FRAME > this.batch.length) {
      const grown = Buffer.allocUnsafe(this.batch.length * 2);
      this.batch.copy(grown, 0, 0, this.batched * FRAME);
      this.batch = grown;
    }
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    const at = this.batched * FRAME;
    template.copy(this.batch, at);
    this.batch.writeUInt32BE(id, at + 4);
    this.batched++;
    this.sentAt[id & (SLOTS - 1)] = performance.now();
    inFlight++;
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush()); // after this turn's responses are all read
    }
  }

  private flush(): void {
    this.flushing = false;
    if (this.batched === 0) return;
    // The socket keeps the buffer until written: hand it over and start a new one.
    this.socket.write(this.batch.subarray(0, this.batched * FRAME));
    this.batch = Buffer.allocUnsafe(this.batch.length);
    this.batched = 0;
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (buf.length - at >= HEADER) {
      const metaLen = buf.readUInt32BE(at + 8);
      const end = at + HEADER + metaLen + buf.readUInt32BE(at + 12);
      if (end > buf.length) break;
      if (buf[at + 3] === RESPONSE) {
        const id = buf.readUInt32BE(at + 4);
        const status = metaLen === 0 ? 0 : metaStatus(buf, at + HEADER, at + HEADER + metaLen);
        inFlight--;
        if (status === 0) {
          ok++;
          histogram.recordValue(Math.max(1, Math.round((performance.now() - this.sentAt[id & (SLOTS - 1)]!) * 1000)));
        } else {
          errors.set(status, (errors.get(status) ?? 0) + 1);
        }
        this.send();
      }
      at = end;
    }
    this.pending = at === buf.length ? undefined : buf.subarray(at);
  }

  close(): void {
    this.socket.destroy();
  }
}

const port = Number(f['port']);
const conns = Array.from({ length: connections }, () => new Connection(port));
await Promise.all(conns.map((c) => c.connected()));

await measure(Number(f['pid']), warmupMs, async (onStart) => {
  conns.forEach((c, i) => {
    const share = Math.floor(concurrency / connections) + (i < concurrency % connections ? 1 : 0);
    for (let k = 0; k < share; k++) c.send();
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  ok = 0;
  errors = new Map();
  onStart();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, durationMs));
  const elapsed = performance.now() - t0;
  const counted = ok;
  const failed = new Map(errors);
  const h = histogram;
  issuing = false;
  const drainBy = Date.now() + 10_000;
  while (inFlight > 0 && Date.now() < drainBy) await new Promise((r) => setTimeout(r, 5));
  const failures = [...failed.values()].reduce((s, n) => s + n, 0);
  const result: LoadResult = {
    requests: counted + failures,
    ok: counted,
    errors: Object.fromEntries([...failed].map(([status, n]) => [statusName(status), n])),
    rps: (counted + failures) / (elapsed / 1000),
    durationMs: elapsed,
    latencyUs: latencySummary(h),
  };
  return result;
});
for (const c of conns) c.close();
