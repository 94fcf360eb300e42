// ringrpc bench server: `--port 0` → prints "READY <port>".
import { createServer } from '../../src/index.js';
import { Bench } from '../../examples/bench/generated.js';
import { Bench as handlers } from '../../examples/bench/handlers.js';
import { flags } from '../lib/proc.js';

const f = flags(process.argv.slice(2));
const server = createServer({ host: '127.0.0.1', port: Number(f['port'] ?? 0) }).addService(Bench, handlers);
const { port } = await server.listen();
process.stdout.write(`READY ${port}\n`);
process.on('SIGTERM', () => void server.shutdown({ graceMs: 1000 }).then(() => process.exit(0)));
