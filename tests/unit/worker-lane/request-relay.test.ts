import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Status } from '../../../src/status.js';
import { RpcError } from '../../../src/errors.js';
import { RequestRelay, type RelayToThread } from '../../../src/worker-lane/request-relay.js';

const test = suite('request-relay');
const WINDOW = 1000;

/** A relay of stream 7 whose call has slot `slot.at` once it has one; its grants are recorded. */
function relay(): { relay: RequestRelay; granted: number[]; slot: { at: number } } {
  const granted: number[] = [];
  const slot = { at: -1 };
  const sink = { message: () => 0, grant: (bytes: number) => void granted.push(bytes), copiesBelow: 0 };
  return { relay: new RequestRelay(() => slot.at, 7, WINDOW, sink), granted, slot };
}

/** What the thread's end of `port` receives until `count` messages came. */
function receive(port: MessagePort, count: number): Promise<RelayToThread[]> {
  const got: RelayToThread[] = [];
  return new Promise((resolve) => {
    port.on('message', (m: RelayToThread) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

test('before a thread opens it, it holds at most the window plus one message, and refuses the next RESOURCE_EXHAUSTED', () => {
  const { relay: r } = relay();
  const body = new Uint8Array(284); // 300 bytes as a frame
  for (let n = 0; n < 4; n++) assert.is(r.push(body, 0, 300), undefined, `message ${n}`); // 1200 > 1000: the fourth took it below 0
  const error = r.push(body, 0, 300);
  assert.instance(error, RpcError);
  assert.is(error!.code, Status.RESOURCE_EXHAUSTED);
  assert.match(error!.message, /window of 1000 bytes was spent/);
});

test('what it held goes to the thread in order with the slot, then the rest as it comes; a copy, not the read chunk', async () => {
  const { relay: r, slot } = relay();
  const chunk = Buffer.from([1, 2, 3, 4]);
  r.push(chunk.subarray(0, 2), 0, 18);
  chunk[0] = 9; // the read chunk is reused: the relay kept its own copy
  const { port1, port2 } = new MessageChannel();
  const got = receive(port2, 3);
  slot.at = 5;
  r.attach(port1);
  r.push(chunk.subarray(2, 4), 0, 18);
  r.halfClose();
  const messages = await got;
  assert.equal(
    messages.map((m) => [m.kind, m.slot, m.requestId, m.kind === 'message' ? [...m.body] : null]),
    [
      ['message', 5, 7, [1, 2]],
      ['message', 5, 7, [3, 4]],
      ['half-close', 5, 7, null],
    ],
  );
  port1.close();
  port2.close();
});

test('what the thread consumed is granted to the client and restores its credit; its end reaches the thread; nothing after it', async () => {
  const { relay: r, granted, slot } = relay();
  const { port1, port2 } = new MessageChannel();
  slot.at = 2;
  r.attach(port1);
  const got = receive(port2, 6);
  for (let n = 0; n < 4; n++) r.push(new Uint8Array(284), 0, 300);
  assert.is(r.push(new Uint8Array(1), 0, 17)?.code, Status.RESOURCE_EXHAUSTED);
  r.consumed(600);
  assert.equal(granted, [600]);
  assert.is(r.push(new Uint8Array(1), 0, 17), undefined, 'credit came back');
  r.end(new RpcError(Status.DEADLINE_EXCEEDED, 'deadline passed'));
  assert.is(r.push(new Uint8Array(1), 0, 17), undefined, 'ignored once ended');
  r.consumed(300);
  assert.equal(granted, [600], 'no grant once ended');
  const messages = await got;
  assert.equal(messages[5], { kind: 'end', slot: 2, requestId: 7, status: Status.DEADLINE_EXCEEDED, message: 'deadline passed' });
  port1.close();
  port2.close();
});

test('a second half-close, or a message after the half-close, is INTERNAL', () => {
  const { relay: r } = relay();
  assert.is(r.halfClose(), undefined);
  assert.is(r.halfClose()?.code, Status.INTERNAL);
  assert.is(r.push(new Uint8Array(1), 0, 17)?.code, Status.INTERNAL);
});

test.run();
