import { runCall, type PipelineSettings } from '../pipeline/call-pipeline.js';
import type { CallLane } from './router.js';
import type { ServerCall } from './server-call.js';

/**
 * The inline lane: calls run on the reactor's thread, through the call pipeline, with
 * zlib on libuv's pool. For handlers that take microseconds; anything CPU-heavy belongs
 * on the worker lane, where it cannot stall every connection.
 */
export class InlineLane implements CallLane {
  readonly name = 'inline';
  private readonly settings: PipelineSettings;

  constructor(settings: Omit<PipelineSettings, 'zlib'>) {
    this.settings = { ...settings, zlib: 'async' };
  }

  submit(call: ServerCall, _meta: Uint8Array, body: Uint8Array): void {
    runCall(call, body, call.meta.compression, this.settings);
  }
}
