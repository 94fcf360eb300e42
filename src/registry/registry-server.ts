import { randomBytes } from 'node:crypto';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { channels } from '../util/diagnostics.js';
import { createServer, type Server, type ServerAddress } from '../server/server.js';
import type { ServerOptions } from '../server/server-options.js';
import type { HandlerContext } from '../pipeline/handler-context.js';
import { instanceAddress, normalizeInstance, sortInstances, type ServiceInstance } from './registry.js';
import { registryService, type InstanceMessage } from './registry-service.js';

/** Bounds of a lease's TTL, in ms. */
const MIN_TTL_MS = 300;
const MAX_TTL_MS = 600_000;
/** Longest a Watch call is held, in ms. */
const MAX_WATCH_WAIT_MS = 300_000;

interface Lease {
  readonly id: string;
  readonly ttlMs: number;
  readonly timer: NodeJS.Timeout;
  /** Keys (`service/host:port`) of the instances it holds. */
  readonly instances: Set<string>;
}

interface ServiceEntry {
  version: number;
  readonly instances: Map<string, { instance: ServiceInstance; leaseId: string }>;
  /** Held Watch calls, woken when the list changes. */
  readonly waiters: Set<() => void>;
}

/** What a registry server holds: for tests, status pages and the CLI. */
export interface RegistrySnapshot {
  readonly epoch: string;
  readonly leases: number;
  readonly services: Record<string, readonly ServiceInstance[]>;
}

/**
 * The built-in registry: `ringrpc.v1.Registry` served by a ringrpc server. Providers
 * hold a lease each (renewed by heartbeats) and their instances go when it lapses;
 * watchers make blocking Watch calls that are answered the moment the list changes, so
 * updates are pushed, not polled. State lives in memory: after a restart (a new epoch)
 * providers find their lease gone and register again, and watchers re-read.
 */
export class RegistryServer {
  readonly server: Server;
  /** Changes on every start, so that watchers notice a restart even if versions repeat. */
  readonly epoch = randomBytes(8).toString('hex');
  private readonly leases = new Map<string, Lease>();
  private readonly services = new Map<string, ServiceEntry>();
  private closing = false;
  private uri = 'ringrpc://(not listening)';

  constructor(options: ServerOptions = {}) {
    this.server = createServer(options);
    this.server.addService(registryService(), {
      register: (request) => this.register(request.leaseId, request.ttlMs, request.instance),
      renew: (request) => {
        this.lease(request.leaseId).timer.refresh();
        return {};
      },
      deregister: (request) => {
        this.remove(`${request.service}/${instanceAddress(request)}`, this.lease(request.leaseId).id);
        return {};
      },
      watch: (request, ctx) => this.watch(request.service, request.epoch, request.version, request.maxWaitMs, ctx),
    });
  }

  /** Starts serving; resolves with the bound address. */
  async listen(port?: number, host?: string): Promise<ServerAddress> {
    const address = await this.server.listen(port, host);
    this.uri = `ringrpc://${instanceAddress(address)}`;
    return address;
  }

  private publish(event: string, instance: ServiceInstance): void {
    if (channels.registry.hasSubscribers) channels.registry.publish({ uri: this.uri, event, service: instance.service, address: instanceAddress(instance) });
  }

  /** The instances of every service, by service. */
  snapshot(): RegistrySnapshot {
    const services: Record<string, ServiceInstance[]> = {};
    for (const [name, entry] of this.services) {
      if (entry.instances.size > 0) services[name] = sortInstances([...entry.instances.values()].map((e) => e.instance));
    }
    return { epoch: this.epoch, leases: this.leases.size, services };
  }

  /** Answers every held Watch, stops the leases and shuts the server down gracefully. */
  async close(): Promise<void> {
    this.closing = true;
    for (const entry of this.services.values()) for (const wake of entry.waiters) wake();
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    await this.server.shutdown();
  }

  private lease(id: string): Lease {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new RpcError(Status.NOT_FOUND, `lease ${JSON.stringify(id)} is unknown or has lapsed: register again`);
    return lease;
  }

  private register(leaseId: string, ttlMs: number, message: InstanceMessage | null | undefined): { leaseId: string } {
    if (message === null || message === undefined) throw new RpcError(Status.INVALID_ARGUMENT, 'Register needs an instance');
    const instance = normalizeInstance({ ...message, weight: message.weight || undefined });
    let lease: Lease;
    if (leaseId === '') {
      if (!Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
        throw new RpcError(Status.INVALID_ARGUMENT, `ttl_ms must be from ${MIN_TTL_MS} to ${MAX_TTL_MS} (got ${ttlMs})`);
      }
      const id = randomBytes(12).toString('hex');
      lease = { id, ttlMs, instances: new Set(), timer: setTimeout(() => this.expire(id), ttlMs) };
      lease.timer.unref();
      this.leases.set(id, lease);
    } else {
      lease = this.lease(leaseId);
      lease.timer.refresh();
    }
    const key = `${instance.service}/${instanceAddress(instance)}`;
    const entry = this.entry(instance.service);
    const previous = entry.instances.get(key);
    // The latest registration of an address wins: a restarted provider replaces the
    // instance its predecessor's lease still holds.
    if (previous !== undefined && previous.leaseId !== lease.id) this.leases.get(previous.leaseId)?.instances.delete(key);
    entry.instances.set(key, { instance, leaseId: lease.id });
    lease.instances.add(key);
    if (previous === undefined || JSON.stringify(previous.instance) !== JSON.stringify(instance)) {
      this.publish('instance-added', instance);
      this.changed(entry);
    }
    return { leaseId: lease.id };
  }

  private expire(id: string): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    for (const key of lease.instances) this.remove(key, id, 'lease-expired');
    this.leases.delete(id);
  }

  private remove(key: string, leaseId: string, why: 'instance-removed' | 'lease-expired' = 'instance-removed'): void {
    const service = key.slice(0, key.indexOf('/'));
    const entry = this.services.get(service);
    const held = entry?.instances.get(key);
    if (entry === undefined || held === undefined || held.leaseId !== leaseId) return;
    entry.instances.delete(key);
    this.leases.get(leaseId)?.instances.delete(key);
    this.publish(why, held.instance);
    this.changed(entry);
  }

  private entry(service: string): ServiceEntry {
    let entry = this.services.get(service);
    if (entry === undefined) this.services.set(service, (entry = { version: 0, instances: new Map(), waiters: new Set() }));
    return entry;
  }

  private changed(entry: ServiceEntry): void {
    entry.version = (entry.version + 1) >>> 0;
    for (const wake of entry.waiters) wake();
  }

  private async watch(
    service: string,
    epoch: string,
    version: number,
    maxWaitMs: number,
    ctx: HandlerContext,
  ): Promise<{ epoch: string; version: number; instances: InstanceMessage[] }> {
    if (service === '') throw new RpcError(Status.INVALID_ARGUMENT, 'Watch needs a service');
    const entry = this.entry(service);
    if (epoch === this.epoch && version === entry.version && !this.closing) {
      const waitMs = Math.min(maxWaitMs > 0 ? maxWaitMs : MAX_WATCH_WAIT_MS, MAX_WATCH_WAIT_MS);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          entry.waiters.delete(wake);
          ctx.signal.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, waitMs);
        entry.waiters.add(wake);
        ctx.signal.addEventListener('abort', wake, { once: true });
      });
    }
    const instances = sortInstances([...entry.instances.values()].map((e) => e.instance));
    return { epoch: this.epoch, version: entry.version, instances: instances.map((i) => ({ ...i, metadata: { ...i.metadata } })) };
  }
}

/** Starts a built-in registry on `options.host:options.port` (port 0: any free one); `close()` stops it. */
export async function startRegistryServer(options: ServerOptions = {}): Promise<RegistryServer> {
  const registry = new RegistryServer(options);
  await registry.listen();
  return registry;
}
