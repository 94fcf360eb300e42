/**
 * The auth example's handlers. Work runs on the worker lane: this module is also loaded by
 * the worker threads, where `ctx.identity` (what the bearer-token interceptor established
 * on the reactor) and `ctx.peer.certificate` (the mutual-TLS client) arrive with each call.
 */
import { threadId } from 'node:worker_threads';
import type { ServiceImplementation } from '../../src/index.js';
import type { Bench as BenchService } from '../bench/generated.js';
import { Bench as base } from '../bench/handlers.js';

/** Who the handler saw: a token's identity's subject, else the client certificate's CN. */
function caller(ctx: Parameters<NonNullable<ServiceImplementation<typeof BenchService>['echo']>>[1]): string {
  const identity = ctx.identity as { subject?: string } | undefined;
  return identity?.subject ?? ctx.peer.certificate?.subject['CN'] ?? 'anonymous';
}

export const Bench: ServiceImplementation<typeof BenchService> = {
  echo(request, ctx) {
    ctx.responseMetadata['caller'] = caller(ctx);
    return { payload: request.payload };
  },
  work(request, ctx) {
    ctx.responseMetadata['caller'] = caller(ctx);
    ctx.responseMetadata['thread'] = String(threadId);
    return base.work!(request, ctx);
  },
};
