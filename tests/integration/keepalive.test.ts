import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import diagnostics from 'node:diagnostics_channel';
import { type RpcError, Status } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { FrameType } from '../../src/protocol/constants.js';
import { startSilentServer, sleep, until } from '../helpers/tcp.js';

const test = suite('keepalive and idle eviction');

test('an idle client PINGs, the server PONGs, and the round-trip time is recorded', async () => {
  const { server, address } = await startBenchServer();
  const rtts: number[] = [];
  const onKeepalive = (m: unknown) => rtts.push((m as { rttMs: number }).rttMs);
  diagnostics.subscribe('ringrpc:client:keepalive', onKeepalive);
  const client = benchClient(address, { heartbeatIntervalMs: 20 });
  try {
    const started = Date.now();
    await client.echo({});
    await until(() => rtts.length >= 3, 10_000, 'three PONGs');
    const [stats] = client.$stats();
    assert.is(stats!.state, 'ready');
    assert.type(stats!.rttMs, 'number');
    // In ms: no longer than the whole wait (a loaded machine can stretch a loopback round trip).
    assert.ok(stats!.rttMs! >= 0 && stats!.rttMs! <= Date.now() - started, `rtt ${stats!.rttMs} ms on loopback`);
  } finally {
    diagnostics.unsubscribe('ringrpc:client:keepalive', onKeepalive);
    await client.$close();
    await server.close();
  }
});

test('a busy connection sends no PING beyond its first (any frame is a sign of life)', async () => {
  // Every PING sent would be answered and show up on the keepalive channel. The interval
  // is long against one call's round trip, so that a loaded machine's pauses between
  // answers do not pass for silence.
  const { server, address } = await startBenchServer();
  let pings = 0;
  const onKeepalive = () => pings++;
  diagnostics.subscribe('ringrpc:client:keepalive', onKeepalive);
  const intervalMs = 250;
  const client = benchClient(address, { heartbeatIntervalMs: intervalMs });
  try {
    const busyUntil = Date.now() + 4 * intervalMs;
    while (Date.now() < busyUntil) await client.echo({});
    assert.is(pings, 1, 'only the PING that greets the server on connecting');
    // Then idle: within two ticks a PING goes out and is answered.
    await until(() => pings >= 2, 10_000, 'the same connection, idle, to send a PING');
  } finally {
    diagnostics.unsubscribe('ringrpc:client:keepalive', onKeepalive);
    await client.$close();
    await server.close();
  }
});

test('a peer that reads and never answers: pending calls fail UNAVAILABLE "keepalive timeout" naming it, then the client reconnects', async () => {
  const peer = await startSilentServer();
  const address = `127.0.0.1:${peer.port}`;
  const timeoutMs = 10_000;
  const client = benchClient(address, { heartbeatIntervalMs: 20, heartbeatMissLimit: 2, timeoutMs, retry: false });
  try {
    const started = Date.now();
    const calls = [client.sleep({ ms: 5000 }), client.echo({})].map((p) =>
      p.then(
        () => assert.unreachable('no answer can come') as never,
        (e: RpcError) => e,
      ),
    );
    const errors = await Promise.all(calls);
    const took = Date.now() - started;
    for (const err of errors) {
      assert.is(err.code, Status.UNAVAILABLE);
      assert.match(err.message, new RegExp(`@ ${address}: .*keepalive timeout`));
    }
    // The keepalive finds it after about 60 ms, the deadline would after 10 s: anything well
    // below the deadline is the keepalive, even on a loaded machine.
    assert.ok(took >= 40 && took < timeoutMs / 2, `detected after ${took} ms (interval 20 ms × (2 misses + 1))`);
    await until(() => peer.accepted() >= 2, 10_000, 'a reconnect');
  } finally {
    await client.$close();
    await peer.close();
  }
});

test('with keepalive off the server evicts an idle client; with it on the connection is held', async () => {
  // Idle limit 600 ms, against a PING every 100 ms from the kept client: a loaded
  // machine's pauses stay well inside the limit.
  const { server, address } = await startBenchServer({ heartbeatIntervalMs: 200, heartbeatMissLimit: 2 });
  const quiet = benchClient(address, { keepalive: false });
  const alive = benchClient(address, { heartbeatIntervalMs: 100 });
  try {
    await quiet.echo({});
    await alive.echo({});
    await until(() => server.stats().connections.idleClosed >= 1, 10_000, 'the quiet client to be evicted');
    await sleep(1200); // two more idle limits, for the kept one to be evicted if it were not kept
    assert.is(server.stats().connections.idleClosed, 1, 'only the quiet one was evicted');
    assert.is(server.stats().connections.open, 1);
    assert.is(quiet.$stats()[0]!.connections, 0);
    assert.is(alive.$stats()[0]!.state, 'ready');
    // The evicted client reconnects on its next call.
    await quiet.echo({});
    assert.is(server.stats().connections.accepted, 3);
  } finally {
    await quiet.$close();
    await alive.$close();
    await server.close();
  }
});

test('the server answers PING from a raw peer and evicts it once it goes silent', async () => {
  const { server, port } = await startBenchServer({ heartbeatIntervalMs: 100, heartbeatMissLimit: 1 }); // 200 ms
  const peer = await RawPeer.connect(port);
  try {
    for (let i = 1; i <= 5; i++) {
      peer.send(FrameType.PING, i, new Uint8Array(0), Buffer.from([i]));
      const pong = await peer.next(FrameType.PONG);
      assert.is(pong.requestId, i);
      await sleep(15);
    }
    assert.is(server.stats().connections.idleClosed, 0, 'PINGs kept it');
    await peer.waitClosed(10_000);
    assert.is(server.stats().connections.idleClosed, 1);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test.run();
