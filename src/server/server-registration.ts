import { networkInterfaces } from 'node:os';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { channels } from '../util/diagnostics.js';
import { openRegistry } from '../client/open-registry.js';
import type { InstanceInit, Registry } from '../registry/registry.js';
import type { AdvertiseOptions } from './server-options.js';

/** How long shutdown waits for the registry to withdraw the instances before it goes on. */
const WITHDRAW_TIMEOUT_MS = 5000;

/**
 * A server's presence in its registry: one instance per service, registered once the
 * server listens (and for services added later), withdrawn first thing in shutdown so
 * that clients stop picking the server before it sends GOAWAY.
 */
export class ServerRegistration {
  readonly registry: Registry;
  private readonly owned: boolean;
  private readonly instances = new Map<string, InstanceInit>();
  private host: string | undefined;
  private port = 0;

  constructor(
    registry: string | Registry,
    private readonly advertise: Readonly<AdvertiseOptions>,
  ) {
    this.owned = typeof registry === 'string';
    this.registry = typeof registry === 'string' ? openRegistry(registry) : registry;
  }

  /** Starts announcing `services` at the bound port. Failures are reported, not thrown: the registry keeps trying. */
  async start(services: readonly string[], listenHost: string, port: number): Promise<void> {
    this.host = this.advertise.host ?? advertisedHost(listenHost);
    this.port = port;
    await Promise.all(services.map((s) => this.add(s)));
  }

  /** Announces one more service (added while listening). */
  async add(service: string): Promise<void> {
    if (this.host === undefined || this.instances.has(service)) return;
    const instance: InstanceInit = { service, host: this.host, port: this.port, weight: this.advertise.weight, metadata: this.advertise.metadata };
    this.instances.set(service, instance);
    try {
      await this.registry.register(instance);
    } catch (err) {
      const error = RpcError.from(err, Status.UNAVAILABLE);
      if (channels.registry.hasSubscribers) channels.registry.publish({ uri: this.registry.uri, event: 'register-failed', service, error });
    }
  }

  /** Withdraws every instance (bounded in time: an unreachable registry must not hold up shutdown). */
  async withdraw(): Promise<void> {
    const all = [...this.instances.values()];
    this.instances.clear();
    await bounded(Promise.allSettled(all.map((i) => this.registry.deregister(i))), WITHDRAW_TIMEOUT_MS);
  }

  /** Withdraws, then closes the registry if the server opened it. */
  async close(): Promise<void> {
    await this.withdraw();
    if (this.owned) await bounded(this.registry.close(), WITHDRAW_TIMEOUT_MS);
  }
}

/** The host to announce for a server listening on `listenHost`. */
function advertisedHost(listenHost: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::' && listenHost !== '') return listenHost;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        clearTimeout(timer);
        resolve();
      });
  });
}
