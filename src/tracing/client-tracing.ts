import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ClientInterceptor } from '../pipeline/interceptor.js';
import { ATTR, endWithStatus, rpcSystem, SpanKind } from './conventions.js';
import { TRACEPARENT } from './trace-context.js';
import type { TraceTools } from './trace-tools.js';

/** ringrpc's client speaks only its own protocol. */
const { system, statusAttribute } = rpcSystem('ringrpc');

/**
 * The client's tracing interceptor: a CLIENT span per call, named `package.Service/Method`,
 * and under it one INTERNAL span per attempt (`… attempt`, with its number, the instance it
 * went to and the status it ended with), so that a call retried twice shows three attempts.
 * Each attempt carries its own span's context in its metadata: the server's span is the
 * attempt's child.
 *
 * The call's parent is the active context (the handler's server span, on the inline
 * lane). Outside any active span, a call whose metadata already holds a `traceparent`
 * continues that trace: a handler on a worker or actor thread that passes on its
 * `ctx.metadata.traceparent` links its calls to its own server span that way.
 *
 * Interceptors after this one run inside the call span's context. A ONEWAY notification
 * has no attempts: its span ends when it is sent, and carries the call span's context.
 */
export function clientTracing(tools: TraceTools): ClientInterceptor {
  const { api, tracer } = tools;
  return (call, next) => {
    let parent = api.context.active();
    if (call.metadata[TRACEPARENT] !== undefined && api.trace.getSpanContext(parent) === undefined) parent = tools.extract(parent, call.metadata);
    const name = `${call.service}/${call.method}`;
    const span = tracer.startSpan(
      name,
      { kind: SpanKind.CLIENT, attributes: { [ATTR.system]: system, [ATTR.service]: call.service, [ATTR.method]: call.method } },
      parent,
    );
    const context = api.trace.setSpan(parent, span);
    tools.inject(context, call.metadata);
    const previous = call.onAttempt;
    call.onAttempt = (attempt) => {
      // The follower set before this one goes first: if it throws, the call fails unsent and no span is left open.
      const previousEnded = previous?.(attempt);
      const where = { [ATTR.serverAddress]: attempt.host, [ATTR.serverPort]: attempt.port };
      span.setAttributes(where); // the call's instance is the last attempt's
      const attemptSpan = tracer.startSpan(`${name} attempt`, { kind: SpanKind.INTERNAL, attributes: { ...where, [ATTR.attempt]: attempt.attempt } }, context);
      tools.inject(api.trace.setSpan(context, attemptSpan), attempt.metadata);
      return (error) => {
        endWithStatus(attemptSpan, statusAttribute, error?.code ?? Status.OK, error?.rawMessage ?? '', 'client');
        previousEnded?.(error);
      };
    };
    return api.context.with(context, next).then(
      (reply) => {
        endWithStatus(span, statusAttribute, Status.OK, '', 'client');
        return reply;
      },
      (err: unknown) => {
        const error = RpcError.from(err, Status.UNKNOWN);
        endWithStatus(span, statusAttribute, error.code, error.rawMessage, 'client');
        throw err;
      },
    );
  };
}
