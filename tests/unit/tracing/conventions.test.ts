import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status, statusName } from '../../../src/index.js';
import { endWithStatus, rpcSystem, SpanStatusCode } from '../../../src/tracing/conventions.js';
import type { OtelSpan } from '../../../src/tracing/otel-api.js';

/** The RPC semantic conventions as ringrpc's spans apply them. */
const test = suite('conventions');

/** A span that records what is set on it. */
function recorder() {
  const seen = {
    attributes: {} as Record<string, unknown>,
    status: undefined as { code: number; message?: string } | undefined,
    endedAt: undefined as number | undefined,
  };
  const span = {
    setAttribute: (k: string, v: unknown) => (seen.attributes[k] = v),
    setStatus: (s: { code: number; message?: string }) => (seen.status = s),
    end: (t?: number) => (seen.endedAt = t ?? -1),
  } as unknown as OtelSpan;
  return { span, seen };
}

test('rpc.system and its status attribute: ringrpc, and grpc for calls that came by gRPC', () => {
  assert.equal(rpcSystem('ringrpc'), { system: 'ringrpc', statusAttribute: 'rpc.ringrpc.status_code' });
  assert.equal(rpcSystem('grpc'), { system: 'grpc', statusAttribute: 'rpc.grpc.status_code' });
});

test('span status per status: every failure on a client span; on a server span only the server’s own', () => {
  const serverErrors = ['UNKNOWN', 'DEADLINE_EXCEEDED', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS'];
  for (let code = 0; code <= 16; code++) {
    for (const side of ['client', 'server'] as const) {
      const { span, seen } = recorder();
      endWithStatus(span, 'rpc.ringrpc.status_code', code, `why ${code}`, side, 123);
      assert.is(seen.attributes['rpc.ringrpc.status_code'], code);
      assert.is(seen.endedAt, 123);
      const error = code !== Status.OK && (side === 'client' || serverErrors.includes(statusName(code)));
      assert.equal(seen.status, error ? { code: SpanStatusCode.ERROR, message: `why ${code}` } : undefined, `${side} ${statusName(code)}`);
    }
  }
});

test.run();
