import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { CallOutcome, ServerInterceptor } from '../pipeline/interceptor.js';
import { ATTR, endWithStatus, rpcSystem, SpanKind } from './conventions.js';
import type { OtelContext, OtelSpan } from './otel-api.js';
import type { TraceTools } from './trace-tools.js';

/**
 * The server's tracing interceptor: a SERVER span per call, child of the remote span the
 * call's metadata names (its client's attempt), named `package.Service/Method`.
 *
 * - On the inline lane the handler runs in the span's context (`next()` is called inside
 *   it), so a call the handler makes from a tracing client is the span's child.
 * - On the worker and actor lanes the handler runs in another thread, where this thread's
 *   context does not reach: the call's `traceparent` metadata is rewritten to name the
 *   span instead, so a handler that passes it on (or a tracing client that finds it, see
 *   the client's interceptor) continues the trace. Its queue wait and run, timed in the
 *   thread and reported with the answer, become two INTERNAL child spans made here, on the
 *   reactor, so nothing is exported from the workers.
 */
export function serverTracing(tools: TraceTools): ServerInterceptor {
  const { api } = tools;
  return async (call, next) => {
    const { system, statusAttribute } = rpcSystem(call.protocol);
    const clock = new CallClock();
    const parent = tools.extract(api.ROOT_CONTEXT, call.metadata);
    const span = tools.tracer.startSpan(
      `${call.service}/${call.method}`,
      {
        kind: SpanKind.SERVER,
        startTime: clock.now(),
        attributes: {
          [ATTR.system]: system,
          [ATTR.service]: call.service,
          [ATTR.method]: call.method,
          [ATTR.clientAddress]: call.peer.address,
          [ATTR.clientPort]: call.peer.port,
          [ATTR.peerAddress]: call.peer.address,
          [ATTR.peerPort]: call.peer.port,
          [ATTR.transport]: 'tcp',
          [ATTR.lane]: call.lane,
        },
      },
      parent,
    );
    const context = api.trace.setSpan(parent, span);
    if (call.lane !== 'inline') tools.inject(context, call.metadata);
    let outcome: CallOutcome;
    try {
      outcome = await api.context.with(context, next);
    } catch (err) {
      // Refused by an interceptor inside this one: the call ends with what it threw.
      const error = RpcError.from(err, Status.UNKNOWN);
      endWithStatus(span, statusAttribute, error.code, error.rawMessage, 'server', clock.now());
      throw err;
    }
    if (outcome.queuedMs !== undefined && outcome.runMs !== undefined && outcome.beganAt !== undefined && span.isRecording()) {
      laneSpans(tools, context, span, call.lane, clock.epoch(outcome.beganAt), outcome.queuedMs, outcome.runMs);
    }
    endWithStatus(span, statusAttribute, outcome.status, outcome.status === Status.OK ? '' : (outcome.message ?? ''), 'server', clock.now());
    return outcome;
  };
}

/**
 * The times of one call's spans, in epoch ms: `performance.now()` readings (the thread's
 * times are such readings) put on the wall clock with one offset, taken when the call's
 * span starts. One offset per call keeps its spans exactly consistent with one another
 * (an SDK would anchor each span on its own `Date.now()`, a millisecond apart), and taking
 * it per call keeps them within a millisecond of the wall clock, which the monotonic clock
 * drifts from over a long-running process.
 */
class CallClock {
  private readonly offsetMs = Date.now() - performance.now();

  /** Now, in epoch ms. */
  now(): number {
    return this.epoch(performance.now());
  }

  /** A `performance.now()` reading of this thread, in epoch ms. */
  epoch(reading: number): number {
    return reading + this.offsetMs;
  }
}

/** The `queue` and `run` child spans of a call a worker or actor thread ran, from the times its thread reported. */
function laneSpans(tools: TraceTools, context: OtelContext, span: OtelSpan, lane: string, beganAt: number, queuedMs: number, runMs: number): void {
  span.setAttributes({ [ATTR.queuedMs]: queuedMs, [ATTR.runMs]: runMs });
  const tracer = tools.tracer;
  const attributes = { [ATTR.lane]: lane };
  tracer.startSpan(`${lane} queue`, { kind: SpanKind.INTERNAL, startTime: beganAt - queuedMs, attributes }, context).end(beganAt);
  tracer.startSpan(`${lane} run`, { kind: SpanKind.INTERNAL, startTime: beganAt, attributes }, context).end(beganAt + runMs);
}
