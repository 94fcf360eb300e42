import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';
import { backoffDelay } from '../util/backoff.js';
import { channels } from '../util/diagnostics.js';
import type { ResolvedRegistryOptions } from './registry-options.js';
import {
  instanceAddress,
  normalizeInstance,
  sameInstances,
  sortInstances,
  type InstanceInit,
  type InstancesListener,
  type Registry,
  type ServiceInstance,
  type WatchErrorListener,
} from './registry.js';
import { registryService, type InstanceMessage, type RegistryMethods, type RegistryService } from './registry-service.js';

/** Waits between failed watch calls: from 100 ms up to 5 s. */
const WATCH_BACKOFF = { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.2 };

/** How a {@link RingrpcRegistry} calls the registry: one promise-returning function per rpc, and `$close`. */
export type RegistryStub = {
  [K in keyof RegistryMethods]: (
    request: RegistryMethods[K]['request'],
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ) => Promise<RegistryMethods[K]['reply']>;
} & { $close(): Promise<void> };

/** The options a {@link RingrpcRegistry} makes its stub with (a subset of the client's options). */
export interface RegistryStubOptions {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly retry: false;
  readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
}

/**
 * Makes the stub a {@link RingrpcRegistry} calls the registry with. In practice this is
 * `createClient`, passed in by whoever opens the registry: registry/ sits below client/
 * and does not import it.
 */
export type RegistryClientFactory = (service: RegistryService, address: string, options: RegistryStubOptions) => RegistryStub;

/**
 * `ringrpc://host:port`: a client of the built-in registry ({@link RegistryServer}).
 * Registered instances share one lease, renewed every third of its TTL; when a renewal
 * finds the lease gone (it lapsed, or the registry restarted) every instance is
 * registered again. Each watched service has one blocking Watch call outstanding, which
 * the registry answers as soon as the list changes; while the registry cannot be
 * reached the last list stays in force and the watch retries with backoff.
 */
export class RingrpcRegistry implements Registry {
  readonly uri: string;
  private readonly address: string;
  private client: RegistryStub | undefined;
  private leaseId = '';
  private readonly wanted = new Map<string, ServiceInstance>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Lease operations, one at a time, so that two registrations cannot open two leases. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watches = new Set<AbortController>();
  private state: 'open' | 'closed' = 'open';

  constructor(
    endpoint: Endpoint,
    private readonly options: ResolvedRegistryOptions,
    private readonly createClient: RegistryClientFactory,
    uri?: string,
  ) {
    this.address = formatEndpoint(endpoint);
    this.uri = uri ?? `ringrpc://${this.address}`;
  }

  private stub(): RegistryStub {
    this.client ??= this.createClient(registryService(), this.address, {
      timeoutMs: this.options.connectTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      // The registry must not be hammered while it restarts: watches and heartbeats have
      // their own pace, so a call fails fast instead of retrying.
      retry: false,
      reconnect: { initialMs: 100, maxMs: 2000 },
    });
    return this.client;
  }

  async register(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    this.checkOpen();
    this.wanted.set(keyOf(instance), instance);
    this.startHeartbeat();
    await this.serially(() => this.send(instance));
  }

  async deregister(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    if (!this.wanted.delete(keyOf(instance))) return;
    await this.serially(async () => {
      if (this.leaseId === '') return;
      try {
        await this.stub().deregister({ leaseId: this.leaseId, service: instance.service, host: instance.host, port: instance.port });
        this.publish('deregistered', { service: instance.service, address: instanceAddress(instance) });
      } catch {
        // Unreachable or lease gone: either way the instance is not renewed any more and
        // lapses with the lease, or is not re-registered after a restart.
      }
    });
    if (this.wanted.size === 0) this.stopHeartbeat();
  }

  watch(service: string, listener: InstancesListener, onError?: WatchErrorListener): () => void {
    this.checkOpen();
    const controller = new AbortController();
    this.watches.add(controller);
    void this.follow(service, listener, onError, controller.signal);
    return () => {
      controller.abort();
      this.watches.delete(controller);
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const controller of this.watches) controller.abort();
    this.watches.clear();
    this.stopHeartbeat();
    const instances = [...this.wanted.values()];
    this.wanted.clear();
    await this.serially(async () => {
      if (this.leaseId === '') return;
      await Promise.allSettled(instances.map((i) => this.stub().deregister({ leaseId: this.leaseId, service: i.service, host: i.host, port: i.port })));
    });
    await this.client?.$close();
  }

  private checkOpen(): void {
    if (this.state === 'closed') throw new RpcError(Status.FAILED_PRECONDITION, `registry ${this.uri} is closed`);
  }

  private publish(event: string, extra: Record<string, unknown> = {}): void {
    if (channels.registry.hasSubscribers) channels.registry.publish({ uri: this.uri, event, ...extra });
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private unreachable(error: unknown): RpcError {
    const e = RpcError.from(error, Status.UNAVAILABLE);
    if (e.code !== Status.UNAVAILABLE && e.code !== Status.DEADLINE_EXCEEDED) return e;
    return new RpcError(Status.UNAVAILABLE, `registry unreachable at ${this.address}: ${e.rawMessage}`, { cause: e, notRun: e.notRun });
  }

  /** Registers one instance under the lease (opening one if there is none). */
  private async send(instance: ServiceInstance): Promise<void> {
    if (!this.wanted.has(keyOf(instance))) return;
    try {
      const reply = await this.stub().register({ leaseId: this.leaseId, ttlMs: this.options.leaseTtlMs, instance: toMessage(instance) });
      this.leaseId = reply.leaseId;
      this.publish('registered', { service: instance.service, address: instanceAddress(instance) });
    } catch (err) {
      if (err instanceof RpcError && err.code === Status.NOT_FOUND && this.leaseId !== '') {
        // The lease lapsed between heartbeats: open a new one.
        this.leaseId = '';
        return this.send(instance);
      }
      throw this.unreachable(err);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => void this.serially(() => this.renew()), Math.max(100, Math.floor(this.options.leaseTtlMs / 3)));
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** One heartbeat: renews the lease, or registers everything again if it is gone. */
  private async renew(): Promise<void> {
    if (this.state === 'closed' || this.wanted.size === 0) return;
    try {
      if (this.leaseId !== '') {
        await this.stub().renew({ leaseId: this.leaseId });
        return;
      }
    } catch (err) {
      if (!(err instanceof RpcError && err.code === Status.NOT_FOUND)) return; // unreachable: next beat
      this.publish('lease-lost', { error: err });
      this.leaseId = '';
    }
    for (const instance of this.wanted.values()) {
      try {
        await this.send(instance);
      } catch {
        return; // unreachable again: the next beat starts over
      }
    }
  }

  /**
   * Keeps one Watch call outstanding for `service` until `signal` aborts. An outage is
   * reported to `onError` once it has lasted `connectTimeoutMs`, as with ZooKeeper, so
   * that a registry restarting in a blink is not an error.
   */
  private async follow(service: string, listener: InstancesListener, onError: WatchErrorListener | undefined, signal: AbortSignal): Promise<void> {
    let epoch = '';
    let version = 0;
    let last: ServiceInstance[] | undefined;
    let failures = 0;
    let lastError: RpcError | undefined;
    let outage: NodeJS.Timeout | undefined;
    const endOutage = (): void => {
      clearTimeout(outage);
      outage = undefined;
    };
    signal.addEventListener('abort', endOutage, { once: true });
    while (!signal.aborted) {
      try {
        const reply = await this.stub().watch(
          { service, epoch, version, maxWaitMs: this.options.watchWaitMs },
          { timeoutMs: this.options.watchWaitMs + this.options.connectTimeoutMs, signal },
        );
        failures = 0;
        endOutage();
        epoch = reply.epoch;
        version = reply.version;
        const list = sortInstances(reply.instances.map((m) => normalizeInstance({ ...m, service, weight: m.weight || undefined })));
        if (signal.aborted) return;
        if (last === undefined || !sameInstances(last, list)) {
          last = list;
          listener(list);
        }
      } catch (err) {
        if (signal.aborted) return;
        lastError = this.unreachable(err);
        if (failures++ === 0) {
          this.publish('unreachable', { service, error: lastError });
          outage = setTimeout(() => {
            if (!signal.aborted && lastError !== undefined) onError?.(lastError);
          }, this.options.connectTimeoutMs);
        }
        await sleep(backoffDelay(WATCH_BACKOFF, failures), signal);
      }
    }
  }
}

function keyOf(instance: ServiceInstance): string {
  return `${instance.service}/${instanceAddress(instance)}`;
}

function toMessage(instance: ServiceInstance): InstanceMessage {
  return { service: instance.service, host: instance.host, port: instance.port, weight: instance.weight, metadata: { ...instance.metadata } };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
