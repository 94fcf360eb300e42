import type { MethodDefinition } from '../codec/service-definition.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { compose, type ClientCallInfo } from '../pipeline/interceptor.js';
import { checkCallOptions, checkStreamWindow } from './call-options.js';
import type { ResolvedClientOptions } from './client-options.js';
import { checkFrameSize, encodeRequest, gzipAboveBytes } from './request-encoding.js';
import { pumpRequests, requestIterator } from './request-pump.js';
import { ReplyReader } from './reply-stream.js';
import { MAX_TRANSPARENT_RETRIES, type CallTarget } from './retrying-call.js';
import { StreamCall, type StreamEnd } from './stream-call.js';
import type { BidiStreamMethod, ClientStreamMethod, RequestSource, ServerStreamMethod, StreamCallOptions } from './stub-types.js';

const EMPTY = Buffer.alloc(0);
const NO_OPTIONS: StreamCallOptions = Object.freeze({});

/** What the stream stubs of one client share. */
export interface StreamStubContext {
  readonly calls: CallTarget;
  readonly options: ResolvedClientOptions;
  /** What the client calls, for errors raised before a connection is picked. */
  readonly address: string;
  readonly isClosed: () => boolean;
}

/**
 * The stub of a streaming method, by its kind (spec §Streams):
 * - server stream `(request, options?) → ReplyStream`: the REQUEST, carrying the request,
 *   leaves when the stub is called (not on first iteration); the replies are read with `for await`.
 *   Up to the window of them wait for a reader; a stream nobody reads or cancels holds its
 *   call slot and window until its deadline;
 * - client stream `(requests, options?) → Promise<reply>`;
 * - bidirectional `(requests, options?) → ReplyStream`.
 *
 * The requests of a client or bidirectional stream are pulled from their source as credit
 * allows and sent as MESSAGEs, each checked and encoded as a unary request is; then
 * HALF_CLOSE. `timeoutMs` (the method's or client's default otherwise) covers the whole
 * stream, `signal` cancels it. A stream picks its instance as a unary call does (waiting,
 * within its deadline, for a registry's first list). It is sent again only when it
 * provably never ran and the server has shown nothing of it (see `resendOf`), with the
 * requests it had sent; otherwise it fails with the first error (the retry policy is for
 * unary calls). Under `compression: 'gzip'` its REQUEST and MESSAGEs over the threshold
 * go gzipped. Replies received before a stream ended are read before its end, unless
 * the caller cancelled it (`cancel()`, `signal`, leaving the loop).
 *
 * Client interceptors wrap a stream as they wrap a unary call, before it opens: they may
 * change its metadata, key and deadline, refuse it (by throwing), and follow its attempt
 * (`onAttempt`, called once). `call.request` is the request of a server stream and the
 * request source of the others. `next()` opens the stream and settles when it ends: for a
 * client stream with its reply (what the interceptors return is the call's result, as for
 * a unary call); for a server or bidirectional stream with `undefined`, or its error —
 * what they return is ignored there (the replies go to the reader), but a throw or a
 * rejection before the stream has ended fails it with that error.
 */
export function makeStreamMethod(
  method: MethodDefinition,
  context: StreamStubContext,
): ServerStreamMethod<unknown, unknown> | ClientStreamMethod<unknown, unknown> | BidiStreamMethod<unknown, unknown> {
  const { calls, options } = context;
  const site = { service: method.service, method: method.name, address: context.address };
  const own = options.methods[method.localName] ?? options.methods[method.name];
  const defaultTimeoutMs = own?.timeoutMs ?? options.timeoutMs;
  const maxFrameBytes = calls.connections.options.maxFrameBytes;
  const readsReplies = method.kind !== 'client_stream';
  const sendsRequests = method.kind !== 'server_stream';
  const encode = (request: unknown): Uint8Array => {
    const body = encodeRequest(method, request, site);
    checkFrameSize(body, undefined, maxFrameBytes, site);
    return body;
  };

  /**
   * Starts one stream: its end is read from `stream` (and its reader, if any); `result` is
   * what the interceptors made of it, when there are any.
   */
  const start = (input: unknown, callOptions: StreamCallOptions, reader: ReplyReader | undefined): { stream: StreamCall; result?: Promise<unknown> } => {
    let window = options.streamWindowBytes;
    let failure: RpcError | undefined;
    let body: Uint8Array = EMPTY;
    let source: ReturnType<typeof requestIterator> | undefined;
    try {
      if (callOptions === null || typeof callOptions !== 'object') throw new RpcError(Status.INVALID_ARGUMENT, 'options must be an object');
      checkCallOptions(callOptions);
      if (callOptions.window !== undefined) window = checkStreamWindow('window', callOptions.window);
      if (context.isClosed()) throw new RpcError(Status.UNAVAILABLE, 'client is closed', site);
      if (callOptions.key === undefined && options.loadBalancer === 'consistent_hash') {
        throw new RpcError(Status.INVALID_ARGUMENT, 'loadBalancer consistent_hash needs a key for each call: pass { key }', site);
      }
      if (sendsRequests) source = requestIterator(input as RequestSource<unknown>);
      else body = encode(input);
      if (callOptions.signal?.aborted) {
        throw new RpcError(Status.CANCELLED, 'call cancelled by the caller before it was sent', { ...site, cause: callOptions.signal.reason });
      }
    } catch (err) {
      failure = RpcError.from(err, Status.INVALID_ARGUMENT, site);
    }
    const stream = new StreamCall(method, window, readsReplies, maxFrameBytes, reader === undefined ? noop : () => reader.readable());
    reader?.attach(stream);
    if (failure !== undefined) {
      stream.cancel(failure);
      return { stream };
    }
    const signal = callOptions.signal;
    if (signal !== undefined) {
      const onAbort = (): void => stream.cancel(new RpcError(Status.CANCELLED, 'stream cancelled by the caller', { ...stream.site(), cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      stream.onEnd(() => signal.removeEventListener('abort', onAbort));
    }
    const startedAt = Date.now();
    const plan: StreamPlan = {
      body,
      metadata: callOptions.metadata,
      key: callOptions.key,
      timeoutMs: callOptions.timeoutMs ?? defaultTimeoutMs,
      onMetadata: callOptions.onMetadata,
      onAttempt: undefined,
      startedAt,
      tried: new Set(),
      resends: 0,
      attemptOver: undefined,
    };
    stream.resend = (error) => resendOf(stream, plan, method, context, error);
    const go = (): void => {
      openStream(stream, plan, method, context);
      if (source !== undefined) void pumpRequests(stream, source, encode, gzipAboveBytes(context.options));
    };
    if (options.interceptors.length === 0) {
      go();
      return { stream };
    }
    const info: ClientCallInfo = {
      service: method.service,
      method: method.name,
      request: input,
      metadata: { ...callOptions.metadata },
      key: callOptions.key,
      timeoutMs: plan.timeoutMs,
      onAttempt: undefined,
    };
    const last = (): Promise<unknown> => {
      if (!stream.sending) return outcome(stream);
      plan.metadata = info.metadata;
      plan.key = info.key;
      plan.timeoutMs = info.timeoutMs;
      plan.onAttempt = info.onAttempt;
      go();
      return outcome(stream);
    };
    const result = compose(options.interceptors, info, last);
    // A refusal, or an interceptor's failure before the stream ended, ends it with that error.
    result.catch((err: unknown) => stream.cancel(RpcError.from(err, Status.UNKNOWN, stream.site())));
    return { stream, result };
  };

  if (method.kind === 'client_stream') {
    return (requests: RequestSource<unknown>, callOptions: StreamCallOptions = NO_OPTIONS): Promise<unknown> => {
      const { stream, result } = start(requests, callOptions, undefined);
      return (result ?? outcome(stream)).catch((err: unknown) => Promise.reject(RpcError.from(err, Status.UNKNOWN, stream.site())));
    };
  }
  return (input: unknown, callOptions: StreamCallOptions = NO_OPTIONS) => {
    const reader = new ReplyReader();
    start(input, callOptions, reader);
    return reader;
  };
}

function noop(): void {}

/** What the stream's REQUEST carries, as the interceptors left it. */
interface StreamPlan {
  readonly body: Uint8Array;
  metadata: Record<string, string> | undefined;
  key: string | undefined;
  /** The whole stream's deadline in ms from `startedAt` (0: none). */
  timeoutMs: number;
  readonly onMetadata: ((metadata: Readonly<Record<string, string>>) => void) | undefined;
  onAttempt: ClientCallInfo['onAttempt'];
  readonly startedAt: number;
  /** Instances it was sent to; a resend prefers another. */
  readonly tried: Set<string>;
  /** Transparent resends so far (see {@link resendOf}). */
  resends: number;
  /** Ends the current send's books (its instance's record, its attempt's follower), once. */
  attemptOver: ((error?: RpcError) => void) | undefined;
}

/** Settles with the stream's end: its RESPONSE's reply, or its error. */
function outcome(stream: StreamCall): Promise<unknown> {
  return new Promise((resolve, reject) => stream.onEnd((end: StreamEnd) => (end.ok ? resolve(end.reply) : reject(end.error))));
}

/**
 * Picks the stream's instance (waiting, within its deadline, for a registry's first list)
 * and sends its REQUEST there. Whatever fails first ends the stream.
 */
function openStream(stream: StreamCall, plan: StreamPlan, method: MethodDefinition, context: StreamStubContext): void {
  if (!stream.sending) return;
  const { endpoints, connections } = context.calls;
  const site = { service: method.service, method: method.name, address: context.address };
  const leftMs = plan.timeoutMs > 0 ? plan.timeoutMs - (Date.now() - plan.startedAt) : 0;
  if (plan.timeoutMs > 0 && leftMs <= 0) {
    return stream.cancel(new RpcError(Status.DEADLINE_EXCEEDED, `deadline of ${plan.timeoutMs} ms exceeded before the stream was sent`, site));
  }
  if (!endpoints.known) {
    if (endpoints.error !== undefined) return stream.cancel(withSite(endpoints.error, site));
    let timer: NodeJS.Timeout | undefined;
    const stopWaiting = endpoints.onChange(() => {
      clearTimeout(timer);
      openStream(stream, plan, method, context);
    });
    if (leftMs > 0) {
      timer = setTimeout(() => {
        stopWaiting();
        stream.cancel(
          new RpcError(Status.DEADLINE_EXCEEDED, `no instances known from ${endpoints.source} within the stream's ${plan.timeoutMs} ms deadline`, site),
        );
      }, leftMs);
    }
    stream.onEnd(() => {
      stopWaiting();
      clearTimeout(timer);
    });
    return;
  }
  const picked = endpoints.pick(plan.tried, plan.key);
  if (picked === undefined) return stream.cancel(endpoints.emptyError(site));
  plan.tried.add(picked.address);
  // This send's end, told once: when the stream ends, or when it is sent again (resendOf).
  let follower: ((error?: RpcError) => void) | undefined;
  let over = false;
  const attemptOver = (error?: RpcError): void => {
    if (over) return;
    over = true;
    connections.record(picked.address, error);
    if (follower !== undefined) attemptEnded(follower, error);
  };
  plan.attemptOver = attemptOver;
  stream.onEnd((end) => attemptOver(end.ok ? undefined : end.error));
  let metadata = plan.metadata;
  if (plan.onAttempt !== undefined) {
    metadata = { ...metadata };
    try {
      follower = plan.onAttempt({ attempt: plan.resends + 1, host: picked.endpoint.host, port: picked.endpoint.port, metadata });
    } catch (err) {
      return stream.cancel(RpcError.from(err, Status.UNKNOWN, { ...site, address: picked.address }));
    }
  }
  let channel: ReturnType<typeof connections.acquire>;
  try {
    channel = connections.acquire(picked.endpoint, picked.connectNow, picked.address);
  } catch (err) {
    // Through the stream's failure path: one never sent may be sent to another instance.
    return stream.onError(withSite(RpcError.from(err, Status.UNAVAILABLE), { ...site, address: picked.address }));
  }
  stream.open(channel, {
    method,
    body: plan.body,
    timeoutMs: leftMs,
    callTimeoutMs: plan.timeoutMs,
    signal: undefined, // the stream listens to it itself: it may be cancelled before it has a connection
    metadata,
    key: plan.key,
    onMetadata: stream.metadataHook(plan.onMetadata),
    // A client or bidirectional stream's REQUEST is empty and must leave before its MESSAGEs: never gzipped.
    gzipAboveBytes: plan.body.length === 0 ? Infinity : gzipAboveBytes(context.options),
    stream,
  });
}

/** Tells an attempt's follower how it ended; what it throws cannot change that, so it is dropped. */
function attemptEnded(ended: (error?: RpcError) => void, error: RpcError | undefined): void {
  try {
    ended(error);
  } catch {}
}

/**
 * A stream that provably never ran is sent again, transparently, as a unary call is
 * (retrying-call.ts): after a GOAWAY that says so, or, when another instance is ready,
 * after it was never written. The stream asks only while the server has shown nothing of
 * it (no MESSAGE, no CREDIT), and sends again the requests it had sent; once the server
 * has shown it runs the stream, it is never sent again (it may have run).
 */
function resendOf(stream: StreamCall, plan: StreamPlan, method: MethodDefinition, context: StreamStubContext, error: RpcError): (() => void) | undefined {
  const transparent = error.notRun === 'goaway' || (error.notRun === 'unsent' && context.calls.endpoints.hasUntried(plan.tried));
  if (!transparent || plan.resends >= MAX_TRANSPARENT_RETRIES) return undefined;
  plan.resends++;
  plan.attemptOver?.(error);
  return () => openStream(stream, plan, method, context);
}

/** `error` naming the stream's service and method (the pool's and registry's errors name at most the address). */
function withSite(error: RpcError, site: { service: string; method: string; address?: string }): RpcError {
  if (error.service !== undefined) return error;
  return new RpcError(error.code, error.rawMessage, {
    ...site,
    address: error.address ?? site.address,
    metadata: error.metadata,
    cause: error.cause,
    notRun: error.notRun,
  });
}
