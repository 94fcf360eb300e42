/**
 * Which actor-lane thread (shard) owns a key: FNV-1a over the key's UTF-16 code units,
 * finished with murmur3's avalanche so that keys differing in one character spread
 * evenly, modulo the thread count. The thread count is fixed for the server's life, so a
 * key reaches the same thread (and its state) for as long as the server runs.
 */
export function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

/** An actor's identity: keys are per service, so two services' actors of one key are two actors. */
export function actorId(service: string, key: string): string {
  return `${service}\n${key}`;
}
