import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint } from '../transport/endpoint.js';

/** One server process offering one service, as a registry lists it. */
export interface ServiceInstance {
  /** Fully qualified service name, e.g. `bench.v1.Bench`. */
  readonly service: string;
  readonly host: string;
  readonly port: number;
  /** Relative share of calls under `weighted_random` (default {@link DEFAULT_WEIGHT}). */
  readonly weight: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What a provider registers: weight and metadata may be left out. */
export interface InstanceInit {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  readonly weight?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The weight of an instance registered without one. */
export const DEFAULT_WEIGHT = 100;

/**
 * Called with the full instance list of a watched service: once it is first known, then
 * after every change. While the registry cannot be reached it is not called, so the last
 * list stays in force.
 */
export type InstancesListener = (instances: readonly ServiceInstance[]) => void;

/**
 * Called when the registry cannot be reached (or refuses a watch). The watch stays in
 * place and resumes by itself; the error is for logging and for calls waiting on a first
 * list, which fail with it instead of waiting out their deadline.
 */
export type WatchErrorListener = (error: RpcError) => void;

/**
 * Where servers announce themselves and clients find them. Backends: `static://`
 * ({@link StaticRegistry}), `ringrpc://` (the built-in registry) and `zk://` (ZooKeeper);
 * {@link openRegistry} picks one by URI.
 */
export interface Registry {
  /** The URI the registry was opened with, for messages. */
  readonly uri: string;
  /**
   * Announces an instance, and keeps announcing it across lost sessions and registry
   * restarts until {@link deregister} or {@link close}. Resolves once the registry lists
   * it; rejects UNAVAILABLE if the registry cannot be reached in time — the instance then
   * stays wanted and is registered as soon as the registry is back.
   */
  register(instance: InstanceInit): Promise<void>;
  /** Withdraws an instance; resolves once the registry no longer lists it (or is unreachable). */
  deregister(instance: InstanceInit): Promise<void>;
  /** Follows a service's instance list; returns the function that stops following it. */
  watch(service: string, listener: InstancesListener, onError?: WatchErrorListener): () => void;
  /** Deregisters everything this registry registered, stops every watch and disconnects. */
  close(): Promise<void>;
}

/** `host:port`, the identity of an instance within its service. */
export function instanceAddress(instance: { readonly host: string; readonly port: number }): string {
  return formatEndpoint(instance);
}

/** Validates an instance and fills in its defaults; the error names the field at fault. */
export function normalizeInstance(init: InstanceInit): ServiceInstance {
  const where = `instance ${JSON.stringify(init)}`;
  if (init === null || typeof init !== 'object') throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: expected { service, host, port }`);
  if (typeof init.service !== 'string' || init.service === '')
    throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: service must be a non-empty string`);
  if (init.service.includes('/')) throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: service must not contain "/"`);
  if (typeof init.host !== 'string' || init.host === '') throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: host must be a non-empty string`);
  if (!Number.isInteger(init.port) || init.port < 1 || init.port > 65535)
    throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: port must be an integer from 1 to 65535`);
  const weight = init.weight ?? DEFAULT_WEIGHT;
  if (!Number.isInteger(weight) || weight < 1 || weight > 1_000_000)
    throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: weight must be an integer from 1 to 1000000`);
  const metadata = init.metadata ?? {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new RpcError(Status.INVALID_ARGUMENT, `invalid ${where}: metadata.${k} must be a string`);
  }
  return { service: init.service, host: init.host, port: init.port, weight, metadata: { ...metadata } };
}

/** Instances in a stable order (by address), so that equal sets compare equal. */
export function sortInstances(list: readonly ServiceInstance[]): ServiceInstance[] {
  return [...list].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}

/** True when two sorted lists hold the same instances with the same weight and metadata. */
export function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.host !== y.host || x.port !== y.port || x.weight !== y.weight || JSON.stringify(x.metadata) !== JSON.stringify(y.metadata)) return false;
  }
  return true;
}
