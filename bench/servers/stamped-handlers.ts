// The bench service with a Stream whose replies carry the time they were produced
// (stream-stamp.ts), for `ringrpc-server.ts --stamp on`: this module is both the inline
// implementation and the worker lane's `workerModule`, so a stream is timed per message on
// either lane.
import { Bench as handlers } from '../../examples/bench/handlers.js';
import { stampedPayload } from './stream-stamp.js';

export { activate } from '../../examples/bench/handlers.js';

export const Bench = {
  ...handlers,
  async *stream(request: { count: number; payloadBytes: number }): AsyncGenerator<{ payload: Uint8Array }> {
    for (let n = 0; n < request.count; n++) yield { payload: stampedPayload(request.payloadBytes) };
  },
};
