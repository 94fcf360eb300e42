import { parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import {
  DEFAULT_WEIGHT,
  instanceAddress,
  normalizeInstance,
  sameInstances,
  sortInstances,
  type InstanceInit,
  type InstancesListener,
  type Registry,
  type ServiceInstance,
} from './registry.js';

/**
 * `static://h1:p1,h2:p2`: a fixed list of endpoints, offered for every service, plus the
 * instances registered through this object (an in-process registry: `static://` with no
 * endpoints is an empty one that servers and clients of one process can share).
 */
export class StaticRegistry implements Registry {
  readonly uri: string;
  private readonly fixed: readonly Endpoint[];
  private readonly registered = new Map<string, ServiceInstance>();
  private readonly watchers = new Map<string, Set<{ listener: InstancesListener; last: ServiceInstance[] | undefined }>>();
  private closed = false;

  constructor(endpoints: ReadonlyArray<string | Endpoint> = [], uri?: string) {
    this.fixed = endpoints.map((e) => (typeof e === 'string' ? parseEndpoint(e) : e));
    this.uri = uri ?? `static://${this.fixed.map((e) => instanceAddress(e)).join(',')}`;
  }

  async register(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    this.registered.set(key(instance), instance);
    this.notify(instance.service);
  }

  async deregister(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    if (this.registered.delete(key(instance))) this.notify(instance.service);
  }

  watch(service: string, listener: InstancesListener): () => void {
    const entry = { listener, last: undefined as ServiceInstance[] | undefined };
    let set = this.watchers.get(service);
    if (set === undefined) this.watchers.set(service, (set = new Set()));
    set.add(entry);
    // After watch() has returned, as with the networked backends.
    queueMicrotask(() => {
      if (set.has(entry)) this.deliver(service, entry);
    });
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const services = new Set([...this.registered.values()].map((i) => i.service));
    this.registered.clear();
    for (const service of services) this.notify(service);
    this.watchers.clear();
  }

  /** The current list of a service. */
  instances(service: string): ServiceInstance[] {
    const out = new Map<string, ServiceInstance>();
    for (const e of this.fixed) out.set(instanceAddress(e), { service, host: e.host, port: e.port, weight: DEFAULT_WEIGHT, metadata: {} });
    for (const i of this.registered.values()) if (i.service === service) out.set(instanceAddress(i), i);
    return sortInstances([...out.values()]);
  }

  private notify(service: string): void {
    for (const entry of this.watchers.get(service) ?? []) this.deliver(service, entry);
  }

  private deliver(service: string, entry: { listener: InstancesListener; last: ServiceInstance[] | undefined }): void {
    const list = this.instances(service);
    if (entry.last !== undefined && sameInstances(entry.last, list)) return;
    entry.last = list;
    entry.listener(list);
  }
}

function key(instance: ServiceInstance): string {
  return `${instance.service}/${instanceAddress(instance)}`;
}
