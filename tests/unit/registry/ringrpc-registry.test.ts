import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../../src/index.js';
import { resolveRegistryOptions } from '../../../src/registry/registry-options.js';
import { RingrpcRegistry, type RegistryClientFactory, type RegistryStub } from '../../../src/registry/ringrpc-registry.js';

const test = suite('ringrpc-registry');

/** A stub that records its calls; `register` answers with lease L1 unless `failWith` is set. */
function fakeStub(log: string[], failWith?: RpcError): RegistryStub {
  return {
    register: async (request) => {
      log.push(`register ${request.instance.service} ${request.instance.host}:${request.instance.port}`);
      if (failWith !== undefined) throw failWith;
      return { leaseId: 'L1' };
    },
    renew: async () => ({}),
    deregister: async (request) => {
      log.push(`deregister ${request.leaseId} ${request.service}`);
      return {};
    },
    watch: async () => new Promise(() => {}),
    $close: async () => {
      log.push('$close');
    },
  };
}

test('calls the registry through the injected client factory, made once on first use', async () => {
  const log: string[] = [];
  const made: string[] = [];
  const factory: RegistryClientFactory = (service, address, options) => {
    made.push(`${service.name} ${address} retry=${options.retry}`);
    return fakeStub(log);
  };
  const registry = new RingrpcRegistry({ host: '127.0.0.1', port: 7000 }, resolveRegistryOptions({}), factory);
  assert.is(registry.uri, 'ringrpc://127.0.0.1:7000');
  assert.equal(made, [], 'nothing is contacted before the first call');
  await registry.register({ service: 'a.B', host: '10.0.0.1', port: 1 });
  await registry.register({ service: 'a.C', host: '10.0.0.1', port: 1 });
  await registry.close();
  assert.equal(made, ['ringrpc.v1.Registry 127.0.0.1:7000 retry=false']);
  assert.equal(log, ['register a.B 10.0.0.1:1', 'register a.C 10.0.0.1:1', 'deregister L1 a.B', 'deregister L1 a.C', '$close']);
});

test('an unreachable registry is UNAVAILABLE naming its address, and keeps the cause and notRun', async () => {
  const refused = new RpcError(Status.UNAVAILABLE, 'cannot connect: ECONNREFUSED', { notRun: 'unsent' });
  const registry = new RingrpcRegistry({ host: '127.0.0.1', port: 7000 }, resolveRegistryOptions({}), () => fakeStub([], refused));
  try {
    await registry.register({ service: 'a.B', host: '10.0.0.1', port: 1 });
    assert.unreachable('register succeeded');
  } catch (err) {
    const e = err as RpcError;
    assert.is(e.code, Status.UNAVAILABLE);
    assert.match(e.rawMessage, 'registry unreachable at 127.0.0.1:7000: cannot connect: ECONNREFUSED');
    assert.is(e.cause, refused);
    assert.is(e.notRun, 'unsent');
  } finally {
    await registry.close();
  }
});

test.run();
