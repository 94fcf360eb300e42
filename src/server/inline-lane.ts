import { runCall, type PipelineSettings } from '../pipeline/call-pipeline.js';
import type { CallLane } from './router.js';
import type { ServerCall } from './server-call.js';

/**
 * Reply `bytes` fields from this size on are written from the handler's buffer, not copied
 * into the encoding (a 16 MiB Echo cost the reactor two 16 MiB copies). Below it a copy
 * is a few microseconds, and a reply in one buffer keeps the writer's concatenated path.
 */
const SPLIT_BYTES_ABOVE = 64 * 1024;

/**
 * The inline lane: calls run on the reactor's thread, through the call pipeline, with
 * zlib on libuv's pool. For handlers that take microseconds; anything CPU-heavy belongs
 * on the worker lane, where it cannot stall every connection.
 */
export class InlineLane implements CallLane {
  readonly name = 'inline';
  private readonly settings: PipelineSettings;

  constructor(settings: Omit<PipelineSettings, 'zlib'>) {
    this.settings = { ...settings, zlib: 'async', splitBytesAbove: SPLIT_BYTES_ABOVE };
  }

  submit(call: ServerCall, _meta: Uint8Array, body: Uint8Array): void {
    runCall(call, body, call.meta.compression, this.settings);
  }
}
