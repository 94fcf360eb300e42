import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createServer, findService, loadServices } from '../../src/index.js';
import { Bench } from '../helpers/bench-server.js';
import { Bench as handlers } from '../fixtures/grpc-handlers.js';

const test = suite('grpc python peer');
/** Debian's interpreter: python3-grpcio installs for it, not for a `python3` earlier on PATH (pyenv's). */
const PYTHON = '/usr/bin/python3';

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

/** True when grpcio imports; under CI=true its absence fails (scripts/python-grpcio.sh installs it there). */
async function grpcioAvailable(): Promise<boolean> {
  const probe = await run(PYTHON, ['-c', 'import grpc']);
  if (probe.code === 0) return true;
  const why = `${PYTHON} cannot import grpc (bash scripts/python-grpcio.sh installs python3-grpcio): ${probe.stderr.trim().split('\n').pop()}`;
  if (process.env['CI'] === 'true') throw new Error(why);
  console.log(`  grpc python peer: skipped, ${why}`);
  return false;
}

test('a Python grpcio client calls Echo (inline), Work, Stream and Sum (worker lane), gets gRPC statuses, and reads the schema by reflection', async () => {
  if (!(await grpcioAvailable())) return;
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, handlers, {
    lanes: { work: 'worker', stream: 'worker', sum: 'worker' },
    workerModule: 'tests/fixtures/grpc-handlers.ts',
  });
  const { port } = await server.listen();
  try {
    const python = await run(PYTHON, ['tests/fixtures/grpc_peer.py', `127.0.0.1:${port}`]);
    assert.is(python.code, 0, python.stdout + python.stderr);
    assert.equal(JSON.parse(python.stdout), {
      echo: 'hello from python',
      protocol: 'grpc',
      work_digest_matches: true,
      failed: ['FAILED_PRECONDITION', 'from python'],
      unknown: 'UNIMPLEMENTED',
      stream_replies: 100,
      stream_payloads_match: true,
      sum_digest_matches: true,
      services: ['bench.v1.Bench', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'],
      methods: [
        'Echo(bench.v1.EchoRequest) bench.v1.EchoReply',
        'Work(bench.v1.WorkRequest) bench.v1.WorkReply',
        'Sleep(bench.v1.SleepRequest) bench.v1.SleepReply',
        'Tally(bench.v1.TallyRequest) bench.v1.TallyReply',
        'Stream(bench.v1.StreamRequest) bench.v1.EchoReply',
        'Sum(bench.v1.EchoRequest) bench.v1.SumReply',
        'Chat(bench.v1.EchoRequest) bench.v1.EchoReply',
      ],
    });
    const methods = server.stats().methods;
    assert.is(methods['bench.v1.Bench/Work']!.ok, 1);
    assert.is(methods['bench.v1.Bench/Stream']!.ok, 1);
    assert.is(methods['bench.v1.Bench/Sum']!.ok, 1);
    assert.is(server.stats().workerLane!.inflight, 0);
  } finally {
    await server.close();
  }
});

test('reflection of a service whose types come from other packages and files: the dependencies resolve in a DescriptorPool of the protobuf library', async () => {
  if (!(await grpcioAvailable())) return;
  const orders = findService(loadServices('tests/fixtures/protos/shop/orders/v1/orders.proto'), 'shop.orders.v1.OrderService');
  const server = createServer({ host: '127.0.0.1', port: 0 }).addService(orders, {});
  const { port } = await server.listen();
  try {
    const python = await run(PYTHON, ['tests/fixtures/grpc_peer.py', 'reflect', `127.0.0.1:${port}`, 'shop.orders.v1.OrderService']);
    assert.is(python.code, 0, python.stdout + python.stderr);
    const { services, methods } = JSON.parse(python.stdout) as { services: string[]; methods: string[] };
    assert.ok(services.includes('shop.orders.v1.OrderService'));
    assert.ok(methods.includes('GetOrder(shop.orders.v1.GetOrderRequest) shop.orders.v1.Order'), methods.join('\n'));
  } finally {
    await server.close();
  }
});

test.run();
