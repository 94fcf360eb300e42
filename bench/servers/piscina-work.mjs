// The Work computation for the grpc-js + piscina comparison (a plain JS Piscina task):
// d = payload; `rounds` times d = sha256(d || payload).
import { createHash } from 'node:crypto';

export default function work({ payload, rounds }) {
  let digest = payload;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).update(payload).digest();
  return digest;
}
