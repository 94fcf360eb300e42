import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../src/index.js';
import { statusFromSystemError } from '../../src/internal.js';

const test = suite('errors');

test('message names status, service/method and address', () => {
  const err = new RpcError(Status.UNAVAILABLE, 'connection lost', { service: 'bench.v1.Bench', method: 'Echo', address: '10.0.0.1:7401' });
  assert.is(err.message, '[UNAVAILABLE] bench.v1.Bench/Echo @ 10.0.0.1:7401: connection lost');
  assert.is(err.rawMessage, 'connection lost');
  assert.is(err.code, 14);
  assert.is(err.codeName, 'UNAVAILABLE');
  assert.is(err.name, 'RpcError');
});

test('from() keeps RpcErrors, numeric codes, maps system errors, falls back', () => {
  const same = new RpcError(Status.NOT_FOUND, 'x');
  assert.is(RpcError.from(same), same);
  assert.is(RpcError.from(Object.assign(new Error('gone'), { code: 5 })).code, Status.NOT_FOUND);
  const reset = RpcError.from(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  assert.is(reset.code, Status.UNAVAILABLE);
  assert.ok(reset.cause instanceof Error);
  assert.is(RpcError.from(new Error('boom')).code, Status.UNKNOWN);
  assert.is(RpcError.from('text', Status.INTERNAL).code, Status.INTERNAL);
});

test('instanceof holds for a structurally branded copy', () => {
  const copy = Object.create(Object.prototype, { [Symbol.for('ringrpc.RpcError')]: { value: true } });
  assert.ok(copy instanceof RpcError);
  assert.not.ok(new Error('x') instanceof RpcError);
});

test('notRun is a fact of the error: set through options, undefined by default', () => {
  for (const reason of ['unsent', 'goaway', 'refused'] as const) {
    assert.is(new RpcError(Status.UNAVAILABLE, 'x', { notRun: reason }).notRun, reason);
  }
  assert.is(new RpcError(Status.UNAVAILABLE, 'x').notRun, undefined);
  assert.is(RpcError.from(new Error('boom')).notRun, undefined);
});

test('notRun is not inferred from metadata: the client decodes the wire flag', () => {
  const err = new RpcError(Status.RESOURCE_EXHAUSTED, 'busy', { metadata: { 'ringrpc-not-run': '1' } });
  assert.is(err.metadata['ringrpc-not-run'], '1', 'the server may still build its refusals this way');
  assert.is(err.notRun, undefined);
});

test('system error table', () => {
  const table: Array<[string, number | undefined]> = [
    ['ECONNREFUSED', Status.UNAVAILABLE],
    ['ECONNRESET', Status.UNAVAILABLE],
    ['EPIPE', Status.UNAVAILABLE],
    ['ETIMEDOUT', Status.DEADLINE_EXCEEDED],
    ['ABORT_ERR', Status.CANCELLED],
    ['EWHATEVER', undefined],
  ];
  for (const [code, status] of table) assert.is(statusFromSystemError(code), status, code);
});

test.run();
