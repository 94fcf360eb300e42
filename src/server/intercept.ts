import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { encodeMeta } from '../protocol/meta.js';
import { compose, type CallOutcome, type ServerCallInfo } from '../pipeline/interceptor.js';
import type { Route } from './router.js';
import type { ServerCall } from './server-call.js';
import { callOutcome } from './call-outcome.js';

/**
 * Hands an admitted call to its lane through the route's interceptors. Only routes with
 * interceptors come here (the connection hands the others over directly, at no cost).
 *
 * `meta` and `body` are views of the socket's read chunk, valid in this tick only. When
 * every interceptor calls `next()` at once (no await before it: the common pass-through,
 * logging or timing interceptor), the call reaches its lane within this tick and the views
 * go as they are; when one awaits first, they are copied before this function returns.
 * When an interceptor changed the metadata, the Meta is encoded again, so that a worker or
 * actor thread (which decodes it itself) sees the change too.
 */
export function interceptCall(call: ServerCall, route: Route, meta: Uint8Array, body: Uint8Array): void {
  /** The request's bytes: the read chunk's views until this function returns, then copies if still needed. */
  let ownMeta = meta;
  let ownBody = body;
  const original = call.meta.metadata;
  const info: ServerCallInfo = {
    service: call.service,
    method: call.method,
    requestId: call.requestId,
    protocol: call.protocol,
    lane: route.lane.name,
    metadata: Object.assign(Object.create(null) as Record<string, string>, original),
    key: call.meta.key,
    deadline: call.deadline,
    peer: call.peer,
    identity: undefined,
  };
  /** When the call went to its lane (`performance.now()`), the start of its `queuedMs`; 0 until then. */
  let submittedAt = 0;
  const outcome = new Promise<CallOutcome>((resolve) => {
    call.onEnd = (status) => {
      call.onEnd = undefined;
      resolve(callOutcome(call, status, route.lane.name, submittedAt));
    };
  });
  let handedOver = false;
  const next = (): Promise<CallOutcome> => {
    if (handedOver || call.ended) return outcome;
    handedOver = true;
    // Worker and actor threads get the identity as JSON: one that is not JSON would fail
    // inside the lane, after the call took a slot, and leave it unanswered.
    if (info.identity !== undefined && !serializable(info.identity)) {
      call.replyError(new RpcError(Status.INTERNAL, `an interceptor of ${call.service}/${call.method} set an identity that is not JSON-serialisable`));
      return outcome;
    }
    call.identity = info.identity;
    if (!sameMetadata(original, info.metadata)) {
      call.meta.metadata = info.metadata;
      ownMeta = encodeMeta({ ...call.meta, timeoutMs: 0, status: 0, message: '', lastRequestId: 0 });
    }
    submittedAt = performance.now();
    route.lane.submit(call, ownMeta, ownBody);
    return outcome;
  };
  compose(route.interceptors, info, next).then(
    () => {
      if (!handedOver && !call.ended) {
        call.replyError(new RpcError(Status.INTERNAL, `an interceptor of ${call.service}/${call.method} returned without calling next() or throwing`));
      }
    },
    (err: unknown) => {
      // Refused before its lane had it; after that the call answers for itself.
      if (!handedOver && !call.ended) call.replyError(RpcError.from(err, Status.UNKNOWN));
    },
  );
  if (!handedOver && !call.ended) {
    // An interceptor is awaiting something: the read chunk will be reused, keep copies.
    ownMeta = Buffer.from(meta);
    ownBody = Buffer.from(body);
  }
}

function serializable(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

function sameMetadata(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}
