// A raw-protocol stream load client, written from the wire spec alone (docs/protocol.md
// §Streams; no ringrpc client code): keeps --streams server streams of Bench.Stream open
// over --connections connections (a new one as each ends), times every message from its
// stamp (the server's --stamp), and grants credit back as it reads, half a window at a time.
// All frames a connection issues in one turn leave in one write. Measures the server alone.
//
//   --port --pid --streams 8 --connections 1 --count 100000 --payload 64 --window 65536 --duration --warmup
import net from 'node:net';
import { once } from 'node:events';
import { statusName } from '../../src/status.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';
import { StreamTally, streamLoad } from '../lib/stream-tally.js';
import { wallNow } from '../servers/stream-stamp.js';
import { frame, lengthDelimited, metaStatus, utf8, varint } from '../lib/raw-protocol.js';

const f = flags(process.argv.slice(2));
const HEADER = 16;
const REQUEST = 1;
const RESPONSE = 2;
const MESSAGE = 8;
const CREDIT = 10;
const streams = Number(f['streams'] ?? 8);
const connections = Math.min(streams, Number(f['connections'] ?? 1));
const windowBytes = Number(f['window'] ?? 65_536);

// Meta { service = 1, method = 2, window = 10 }; StreamRequest { count = 1, payload_bytes = 2 }.
const requestMeta = Uint8Array.from([...lengthDelimited(1, utf8('bench.v1.Bench')), ...lengthDelimited(2, utf8('Stream')), 0x50, ...varint(windowBytes)]);
const requestBody = Uint8Array.from([0x08, ...varint(Number(f['count'] ?? 100_000)), 0x10, ...varint(Number(f['payload'] ?? 64))]);

const tally = new StreamTally();
let issuing = true;

class Connection {
  private readonly socket: net.Socket;
  private nextId = 1;
  private pending: Buffer | undefined;
  private out: Buffer[] = [];
  private flushing = false;
  /** Per open stream: bytes of MESSAGEs consumed and not yet granted back. */
  private readonly streams = new Map<number, { owed: number }>();

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      process.stderr.write(`raw-stream-client: ${err.message}\n`);
      process.exit(1);
    });
  }

  connected(): Promise<unknown> {
    return once(this.socket, 'connect');
  }

  open(): void {
    if (!issuing) return;
    const id = this.nextId++;
    this.streams.set(id, { owed: 0 });
    this.queue(frame(REQUEST, id, requestMeta, requestBody));
  }

  private queue(bytes: Buffer): void {
    this.out.push(bytes);
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => {
        this.flushing = false;
        this.socket.write(this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out));
        this.out = [];
      });
    }
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    // One clock read per chunk: every message in it arrived at the same moment.
    const arrived = wallNow();
    let at = 0;
    while (buf.length - at >= HEADER) {
      const metaLen = buf.readUInt32BE(at + 8);
      const bodyLen = buf.readUInt32BE(at + 12);
      const end = at + HEADER + metaLen + bodyLen;
      if (end > buf.length) break;
      const id = buf.readUInt32BE(at + 4);
      const type = buf[at + 3];
      if (type === MESSAGE) {
        // EchoReply { bytes payload = 1 }: tag, length varint, then the payload and its stamp.
        let payloadAt = at + HEADER + metaLen + 1;
        while (buf[payloadAt++]! >= 0x80);
        tally.message(buf.readDoubleLE(payloadAt), arrived);
        const stream = this.streams.get(id);
        if (stream !== undefined && (stream.owed += end - at) >= windowBytes / 2) {
          const grant = Buffer.allocUnsafe(4);
          grant.writeUInt32BE(stream.owed);
          this.queue(frame(CREDIT, id, new Uint8Array(0), grant));
          stream.owed = 0;
        }
      } else if (type === RESPONSE) {
        this.streams.delete(id);
        const status = metaLen === 0 ? 0 : metaStatus(buf, at + HEADER, at + HEADER + metaLen);
        if (status !== 0 && issuing) tally.failed(statusName(status));
        this.open();
      }
      at = end;
    }
    this.pending = at === buf.length ? undefined : buf.subarray(at);
  }

  close(): void {
    this.socket.destroy();
  }
}

const conns = Array.from({ length: connections }, () => new Connection(Number(f['port'])));
await Promise.all(conns.map((c) => c.connected()));
const warmupMs = Number(f['warmup'] ?? 1000);
await measure(Number(f['pid']), warmupMs, (onStart) =>
  streamLoad(tally, warmupMs, Number(f['duration'] ?? 5000), onStart, () => {
    for (let i = 0; i < streams; i++) conns[i % connections]!.open();
  }),
);
issuing = false;
for (const c of conns) c.close();
