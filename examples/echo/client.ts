/** Calls the echo server: `node --import tsx examples/echo/client.ts [host:port] [text]`. */
import { createClient } from '../../src/index.js';
import { Bench } from '../bench/generated.js';

const client = createClient(Bench, process.argv[2] ?? '127.0.0.1:7401');
const reply = await client.echo(
  { payload: Buffer.from(process.argv[3] ?? 'hello, ringrpc') },
  { onMetadata: (metadata) => process.stdout.write(`metadata: ${JSON.stringify(metadata)}\n`) },
);
process.stdout.write(`reply: ${Buffer.from(reply.payload).toString()}\n`);
await client.$close();
