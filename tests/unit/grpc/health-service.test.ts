import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HealthService } from '../../../src/grpc/health-service.js';

const test = suite('health-service');

test('status follows the server: SERVING while it listens, NOT_SERVING otherwise; per service, unknown ones have none', () => {
  let listening = true;
  const health = new HealthService(
    () => listening,
    (service) => service === 'bench.v1.Bench',
  );
  assert.is(health.status(''), 1);
  assert.is(health.status('bench.v1.Bench'), 1);
  assert.is(health.status('other.Service'), undefined, 'answered NOT_FOUND');
  listening = false;
  assert.is(health.status(''), 2, 'NOT_SERVING once shutdown begins');
  assert.is(health.status('bench.v1.Bench'), 2);
});

test.run();
