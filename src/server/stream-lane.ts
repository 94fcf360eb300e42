import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { PipelineSettings } from '../pipeline/call-pipeline.js';
import { PipelineStream } from '../pipeline/stream-pipeline.js';
import type { CallLane } from './router.js';
import type { ServerCall } from './server-call.js';

/**
 * The lane of stream methods: the inline lane's thread and settings, with the stream runner
 * (`PipelineStream`) in place of the unary pipeline. A lane of its own, so that unary calls
 * pay nothing for streams: the route says which runs a call.
 */
export class StreamLane implements CallLane {
  readonly name = 'inline';
  private readonly settings: PipelineSettings;

  constructor(settings: Omit<PipelineSettings, 'zlib'>) {
    this.settings = { ...settings, zlib: 'async' };
  }

  submit(call: ServerCall, _meta: Uint8Array, body: Uint8Array): void {
    const stream = call.stream;
    // The connection that took the call opened its stream; a protocol that cannot (gRPC, for now) is refused at its router.
    if (!(stream instanceof PipelineStream))
      call.replyError(new RpcError(Status.INTERNAL, `${call.service}/${call.method} is a stream, but its call has no inline stream state`));
    else stream.start(body, call.meta.compression, this.settings);
  }
}
