import protobuf from 'protobufjs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { prepareMessageTypes } from './message-codec.js';

/**
 * What a method takes and gives (spec §Streams): one request and one reply (`unary`), one
 * request and a stream of replies (`server_stream`), a stream of requests and one reply
 * (`client_stream`), or a stream each way (`bidi_stream`).
 */
export type MethodKind = 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';

/** The kind of a protobufjs method, from its `stream` markers. */
export function methodKind(method: protobuf.Method): MethodKind {
  if (method.requestStream) return method.responseStream ? 'bidi_stream' : 'client_stream';
  return method.responseStream ? 'server_stream' : 'unary';
}

/**
 * One method of a service, resolved against its protobufjs types. `I`/`O` are the
 * request and reply message types, `K` its kind (see `ringrpc gen`).
 */
export interface MethodDefinition<I = unknown, O = unknown, K extends MethodKind = MethodKind> {
  /** Method name as written in the .proto, e.g. `Echo`. */
  readonly name: string;
  /** Name of the stub function, lowerCamelCase, e.g. `echo`. */
  readonly localName: string;
  /** `service/method` as it travels in Meta, e.g. `bench.v1.Bench/Echo`. */
  readonly path: string;
  /** Fully qualified service name, e.g. `bench.v1.Bench`. */
  readonly service: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** Unary, or which way it streams. */
  readonly kind: K;
  /**
   * True when the .proto marks the method `option idempotency_level = IDEMPOTENT` (or
   * `NO_SIDE_EFFECTS`): the client may then retry it even after it reached a handler.
   */
  readonly idempotent: boolean;
  /** Phantom fields carrying the message types; never set at run time. */
  readonly __types?: { request: I; reply: O };
}

/** Method definitions of one service, keyed by their stub name. */
export type MethodMap = Record<string, MethodDefinition<any, any, MethodKind>>;

/** A protobuf service that servers can implement and clients can call. */
export interface ServiceDefinition<M extends MethodMap = MethodMap> {
  /** Fully qualified name, e.g. `bench.v1.Bench`. */
  readonly name: string;
  /** Methods keyed by their lowerCamelCase stub name. */
  readonly methods: M;
  /** The protobufjs root holding the service's types (for JSON mapping, workers, …). */
  readonly root: protobuf.Root;
}

/** Request message type of a method definition. */
export type RequestOf<D> = D extends MethodDefinition<infer I, any, any> ? I : never;
/** Reply message type of a method definition. */
export type ReplyOf<D> = D extends MethodDefinition<any, infer O, any> ? O : never;

/** `Echo` → `echo`, `GetHTTPStatus` → `getHTTPStatus`: the stub name of a method. */
export function localMethodName(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * Builds the definition of service `fullName` from a protobufjs root (parsed from a
 * .proto at run time, or from the JSON descriptor that `ringrpc gen` embeds), with
 * unary and streaming methods alike. Every message type of `root` is prepared as
 * `prepareMessageTypes` describes: absent bytes are an empty `Buffer`, unset oneof
 * members are absent, 64-bit integers are `bigint`s.
 */
export function defineService<M extends MethodMap = MethodMap>(root: protobuf.Root, fullName: string): ServiceDefinition<M> {
  const name = fullName.replace(/^\./, '');
  let service: protobuf.Service;
  try {
    service = root.lookupService(name);
  } catch {
    throw new RpcError(Status.NOT_FOUND, `service ${name} is not defined in the loaded .proto files`);
  }
  root.resolveAll();
  // Once per root: decoded values then match the generated types (bytes, oneofs, bigint).
  prepareMessageTypes(root);
  const methods: MethodMap = {};
  for (const method of service.methodsArray) {
    const level = method.options?.['idempotency_level'];
    methods[localMethodName(method.name)] = {
      name: method.name,
      localName: localMethodName(method.name),
      path: `${name}/${method.name}`,
      service: name,
      requestType: method.resolvedRequestType!,
      responseType: method.resolvedResponseType!,
      kind: methodKind(method),
      idempotent: level === 'IDEMPOTENT' || level === 'NO_SIDE_EFFECTS',
    };
  }
  return { name, methods: methods as M, root };
}

/** Every service defined in `root`, in declaration order. */
export function listServices(root: protobuf.Root): ServiceDefinition[] {
  const out: ServiceDefinition[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Service) out.push(defineService(root, nested.fullName));
      else if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) visit(nested);
    }
  };
  visit(root);
  return out;
}
