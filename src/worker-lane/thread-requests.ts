import type { MessagePort } from 'node:worker_threads';
import { RpcError } from '../errors.js';
import type { Status } from '../status.js';
import { DEFAULT_STREAM_WINDOW } from '../protocol/constants.js';
import { RequestStream } from '../pipeline/request-stream.js';
import type { RelayFromThread, RelayToThread } from './request-relay.js';
import type { WorkerCall } from './worker-call.js';

/**
 * A thread's end of its stream port: the requests of the client- and bidirectional streams
 * it runs, each fed into the {@link RequestStream} its handler reads. What a handler
 * consumes is reported to the reactor (once half the window was, as `RequestStream`
 * grants), which writes the CREDIT; so the requests on their way to a thread and held in
 * it never exceed the window plus one message. A message for a stream this thread no
 * longer runs crossed its end, and is dropped.
 */
export class ThreadRequests {
  private readonly open = new Map<number, { readonly call: WorkerCall; readonly requests: RequestStream }>();

  constructor(
    private readonly port: MessagePort,
    private readonly maxBytes: number,
  ) {
    port.on('message', (message: RelayToThread) => this.fromReactor(message));
  }

  /**
   * The requests of `call`, whose handler is about to run: the reactor is told to send them
   * here. A body that does not decode ends the call INVALID_ARGUMENT, as on the inline lane.
   */
  requestsOf(call: WorkerCall): RequestStream {
    const { slot, requestId } = call.entry;
    const requests = new RequestStream(call.definition.requestType, DEFAULT_STREAM_WINDOW, this.maxBytes, {
      grant: (bytes) => this.post({ kind: 'consumed', slot, requestId, bytes }),
      fail: (error) => {
        if (!call.ended) call.replyError(error);
        requests.end(error);
      },
    });
    this.open.set(slot, { call, requests });
    this.post({ kind: 'open', slot, requestId });
    return requests;
  }

  /** The call in `slot` ended: its reads reject with `reason` (once: later ones too), its messages are dropped. */
  close(call: WorkerCall, reason: RpcError): void {
    const entry = this.open.get(call.entry.slot);
    if (entry?.call !== call) return;
    this.open.delete(call.entry.slot);
    entry.requests.end(reason);
  }

  private fromReactor(message: RelayToThread): void {
    const entry = this.open.get(message.slot);
    if (entry === undefined || entry.call.entry.requestId !== message.requestId) return;
    if (message.kind === 'message') {
      const error = entry.requests.push(message.body, message.compression, message.bytes);
      if (error !== undefined) entry.requests.end(error); // the reactor checks the window first: a bug
    } else if (message.kind === 'half-close') {
      entry.requests.halfClose();
    } else {
      this.open.delete(message.slot);
      entry.call.check(Date.now()); // its signal aborts: the reactor flagged the call before it posted this
      entry.requests.end(new RpcError(message.status as Status, message.message));
    }
  }

  private post(message: RelayFromThread): void {
    this.port.postMessage(message);
  }
}
