// Stream load through ringrpc's own client: --port --pid --streams 8 --count 1000000 --payload 64 --duration --warmup
// [--window bytes] Keeps --streams server streams of Bench.Stream open on one connection (a new one as each
// ends), reads them with `for await`, and times every message from its stamp (the server's
// --stamp on). Prints RESULT.
import { createClient, type RpcError } from '../../src/index.js';
import { Bench } from '../../examples/bench/generated.js';
import { flags } from '../lib/proc.js';
import { measure } from '../lib/client-main.js';
import { StreamTally, streamLoad } from '../lib/stream-tally.js';
import { readStamp } from '../servers/stream-stamp.js';

const f = flags(process.argv.slice(2));
const client = createClient(Bench, `127.0.0.1:${f['port']}`, { pool: { connectionsPerEndpoint: 1 } });
const streams = Number(f['streams'] ?? 8);
const request = { count: Number(f['count'] ?? 1_000_000), payloadBytes: Number(f['payload'] ?? 64) };
const tally = new StreamTally();
const controller = new AbortController();
let issuing = true;

async function reader(): Promise<void> {
  while (issuing) {
    try {
      for await (const reply of client.stream(request, { signal: controller.signal, timeoutMs: 0, window: Number(f['window'] ?? 65_536) }))
        tally.message(readStamp(reply.payload, 0));
    } catch (err) {
      if (issuing) tally.failed((err as RpcError).codeName ?? 'UNKNOWN');
    }
  }
}

const warmupMs = Number(f['warmup'] ?? 1000);
const readers: Array<Promise<void>> = [];
await measure(Number(f['pid']), warmupMs, (onStart) =>
  streamLoad(tally, warmupMs, Number(f['duration'] ?? 5000), onStart, () => {
    for (let i = 0; i < streams; i++) readers.push(reader());
  }),
);
issuing = false;
controller.abort();
await Promise.all(readers);
await client.$close();
