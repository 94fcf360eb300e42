import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status, statusName, statusFromName, isStatus } from '../../src/index.js';

const test = suite('status');

// The table of the spec, §Status codes.
const SPEC = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

test('numbers and names match the spec table', () => {
  assert.is(Object.keys(Status).length, SPEC.length);
  SPEC.forEach((name, code) => {
    assert.is((Status as Record<string, number>)[name], code, name);
    assert.is(statusName(code), name);
    assert.is(statusFromName(name.toLowerCase()), code);
  });
});

test('unknown numbers and names', () => {
  assert.is(statusName(17), 'STATUS_17');
  assert.is(statusFromName('NOPE'), undefined);
  assert.is(statusFromName('constructor'), undefined);
  assert.not.ok(isStatus(17));
  assert.not.ok(isStatus(1.5));
  assert.ok(isStatus(0));
});

test.run();
