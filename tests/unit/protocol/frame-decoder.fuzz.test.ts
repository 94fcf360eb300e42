import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameDecoder, FrameError, encodeFrame, type FrameType, decodeMeta, encodeMeta, MetaError } from '../../../src/internal.js';

/**
 * Property test of the decoder (and Meta decoder) over random and mutated inputs: no
 * exception other than FrameError/MetaError escapes, nothing hangs, and the bytes held
 * never exceed one frame limit plus one read.
 */
const test = suite('frame-decoder fuzz');

// A small deterministic PRNG (xorshift32), so that a failure is reproducible from its seed.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const MAX = 4096;
/** The meta limit the decoder is fuzzed with: small, so that random lengths hit it often. */
const MAX_META = 512;
/**
 * Inputs per run: 100,000 by default; CI sets RINGRPC_FUZZ_INPUTS=1000000 (about ten
 * times as long) for the machine's Node line, so a long run happens on every landing
 * without slowing a local `npm test` or repeating the same inputs on every Node line.
 */
const INPUTS = Number(process.env['RINGRPC_FUZZ_INPUTS'] ?? 100_000);

function validStream(rand: () => number): Buffer {
  const frames: Buffer[] = [];
  const n = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const meta = encodeMeta({ service: 's', method: 'm', timeoutMs: Math.floor(rand() * 5000), metadata: rand() < 0.3 ? { k: 'v' } : undefined });
    const body = Buffer.alloc(Math.floor(rand() * 200), Math.floor(rand() * 256));
    frames.push(encodeFrame((1 + Math.floor(rand() * 7)) as FrameType, Math.floor(rand() * 0xffffffff), meta, body));
  }
  return Buffer.concat(frames);
}

function mutate(bytes: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(bytes);
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = Math.floor(rand() * out.length);
    const kind = rand();
    if (kind < 0.6) out[at] = Math.floor(rand() * 256);
    else if (kind < 0.8) out[at] ^= 1 << Math.floor(rand() * 8);
    else out.writeUInt8(0xff, at);
  }
  return rand() < 0.2 ? out.subarray(0, Math.floor(rand() * out.length)) : out;
}

test(`${INPUTS.toLocaleString('en')} random and mutated inputs`, () => {
  const rand = rng(0x5eed);
  let frames = 0;
  let faults = 0;
  let maxBuffered = 0;
  const started = Date.now();
  for (let i = 0; i < INPUTS; i++) {
    const input =
      i % 4 === 0
        ? Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))
        : i % 4 === 1
          ? validStream(rand)
          : mutate(validStream(rand), rand);
    const decoder = new FrameDecoder(
      (f) => {
        frames++;
        try {
          decodeMeta(f.meta);
        } catch (e) {
          if (!(e instanceof MetaError)) throw e;
        }
      },
      MAX,
      MAX_META,
    );
    let pos = 0;
    try {
      while (pos < input.length) {
        const n = 1 + Math.floor(rand() * 40);
        const chunk = input.subarray(pos, pos + n);
        decoder.push(chunk);
        pos += n;
        maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
        assert.ok(decoder.bufferedBytes <= MAX + 16 + 40, `buffered ${decoder.bufferedBytes} bytes`);
      }
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      faults++;
    }
  }
  assert.ok(frames > INPUTS / 2, `decoded ${frames} frames`);
  assert.ok(faults > INPUTS / 10, `${faults} faults`);
  assert.ok(Date.now() - started < (INPUTS / 100_000) * 60_000, 'no pathological slowness');
});

test.run();
