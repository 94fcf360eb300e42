import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { work } from '../../../examples/bench/handlers.js';
import { WorkKernel } from '../../../examples/bench/generated.js';

const test = suite('bench Work kernels');
const abc = Buffer.from('abc');

test('sha256: each round hashes the last digest and the payload', () => {
  assert.equal(Buffer.from(work(abc, 0)), abc);
  const one = createHash('sha256').update(abc).update(abc).digest();
  assert.equal(Buffer.from(work(abc, 1)), one);
  assert.equal(Buffer.from(work(abc, 2)), createHash('sha256').update(one).update(abc).digest());
});

test('integer: the payload folded into 32 bits, then 1,024 multiply-add steps per round, big-endian', () => {
  // 'abc' folded: ((97 × 31) + 98) × 31 + 99 = 96,354 = 0x00017862
  assert.equal([...work(abc, 0, WorkKernel.WORK_KERNEL_INTEGER)], [0x00, 0x01, 0x78, 0x62]);
  let x = 96_354;
  for (let round = 0; round < 2; round++) for (let i = 0; i < 1024; i++) x = Number((BigInt(x) * 31n + BigInt(i)) & 0xffffffffn) | 0;
  const expected = Buffer.alloc(4);
  expected.writeInt32BE(x);
  assert.equal(Buffer.from(work(abc, 2, WorkKernel.WORK_KERNEL_INTEGER)), expected);
  assert.not.equal(Buffer.from(work(Buffer.from('abd'), 2, WorkKernel.WORK_KERNEL_INTEGER)), expected);
});

test.run();
