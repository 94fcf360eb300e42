import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { READ_BUDGET_BYTES, ReadGate } from '../../../src/internal.js';

const test = suite('read-gate');

/** A connected socket (the accepted end, the one a server reads), in flowing mode like a server's. */
async function accepted(): Promise<{ socket: net.Socket; close: () => Promise<void> }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [socket] = (await once(server, 'connection')) as [net.Socket];
  socket.on('data', () => {});
  return {
    socket,
    close: async () => {
      peer.destroy();
      socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a connection that reads its budget in one turn stops reading until the next', async () => {
  const { socket, close } = await accepted();
  try {
    const gate = new ReadGate(socket, () => true);
    gate.spend(READ_BUDGET_BYTES - 1);
    assert.is(socket.isPaused(), false, 'under the budget: still read');
    gate.spend(1);
    assert.is(socket.isPaused(), true, 'at the budget: paused');
    await nextTurn();
    await nextTurn();
    assert.is(socket.isPaused(), false, 'read again in a later turn');
  } finally {
    await close();
  }
});

test('the budget is per turn: reads spread over turns never pause', async () => {
  const { socket, close } = await accepted();
  try {
    const gate = new ReadGate(socket, () => true);
    for (let i = 0; i < 10; i++) {
      gate.spend(READ_BUDGET_BYTES / 2);
      assert.is(socket.isPaused(), false, `turn ${i}`);
      await nextTurn();
    }
  } finally {
    await close();
  }
});

test('a peer not reading its answers stays paused past the turn, until it drains', async () => {
  const { socket, close } = await accepted();
  try {
    const gate = new ReadGate(socket, () => true);
    gate.hold('output');
    gate.spend(READ_BUDGET_BYTES);
    await nextTurn();
    await nextTurn();
    assert.is(socket.isPaused(), true, 'the turn is over, the output is still held');
    gate.release('output');
    assert.is(socket.isPaused(), false);
  } finally {
    await close();
  }
});

test('a connection that takes no more input is not resumed', async () => {
  const { socket, close } = await accepted();
  try {
    let open = true;
    const gate = new ReadGate(socket, () => open);
    gate.spend(READ_BUDGET_BYTES);
    open = false; // e.g. a GOAWAY went out meanwhile
    await nextTurn();
    await nextTurn();
    assert.is(socket.isPaused(), true);
  } finally {
    await close();
  }
});

test.run();
