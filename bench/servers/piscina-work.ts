// The Piscina task of the grpc-js + piscina comparison: the same Work as ringrpc's handlers.
import { work } from '../../examples/bench/handlers.js';
import type { WorkKernel } from '../../examples/bench/generated.js';

export default function task({ payload, rounds, kernel }: { payload: Uint8Array; rounds: number; kernel: WorkKernel }): Uint8Array {
  return work(payload, rounds, kernel);
}
