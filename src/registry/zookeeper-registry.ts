import { RpcError } from '../errors.js';
import { Status } from '../status.js';
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
import { loadZooKeeper, type ZkConstructor } from './zookeeper-package.js';
import { Session, ZNODEEXISTS, ZNONODE, ZOK, ZOO_CHILD_EVENT, ZOO_EPHEMERAL, ZOO_LOG_LEVEL_NONE } from './zookeeper-session.js';

interface Watched {
  readonly listeners: Set<{ listener: InstancesListener; onError: WatchErrorListener | undefined }>;
  last: ServiceInstance[] | undefined;
  /** The session whose child watch is armed on the service's providers node. */
  armedIn: Session | undefined;
  /** Bumped by each read, so that a slower earlier read cannot overwrite a later one. */
  generation: number;
}

/**
 * `zk://host:port[,host:port]/root`: instances are ephemeral nodes
 * `<root>/<service>/providers/<host:port>` whose data is the instance as JSON, so they
 * vanish when their provider's session ends. Watchers are one-shot in ZooKeeper, so each
 * event re-arms its watch. On session expiry a new session is opened, and everything
 * registered and watched is recreated. While ZooKeeper is unreachable the last known
 * lists stay in force, and registered instances are recreated when it is back.
 */
export class ZooKeeperRegistry implements Registry {
  readonly uri: string;
  private session: Session | undefined;
  private state: 'open' | 'closed' = 'open';
  private readonly wanted = new Map<string, ServiceInstance>();
  /** Deregistered while disconnected: deleted once connected again (the session may have survived). */
  private readonly withdrawn = new Map<string, ServiceInstance>();
  private readonly watched = new Map<string, Watched>();
  private readonly connectWaiters = new Set<() => void>();
  private unreachableTimer: NodeJS.Timeout | undefined;

  /** Takes the loaded package's client class: use {@link openZooKeeperRegistry}, which loads it. */
  constructor(
    private readonly ZooKeeper: ZkConstructor,
    private readonly hosts: string,
    private readonly root: string,
    private readonly options: ResolvedRegistryOptions,
    uri?: string,
  ) {
    this.uri = uri ?? `zk://${hosts}${root}`;
  }

  async register(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    this.checkOpen();
    const key = keyOf(instance);
    this.wanted.set(key, instance);
    this.withdrawn.delete(key);
    const session = await this.connected();
    const error = await this.createNode(session, instance);
    if (error !== undefined) throw error;
  }

  async deregister(init: InstanceInit): Promise<void> {
    const instance = normalizeInstance(init);
    const key = keyOf(instance);
    if (!this.wanted.delete(key)) return;
    const session = this.session;
    if (session?.connected) {
      await this.deleteNode(session, instance);
    } else {
      this.withdrawn.set(key, instance);
    }
  }

  watch(service: string, listener: InstancesListener, onError?: WatchErrorListener): () => void {
    this.checkOpen();
    let watched = this.watched.get(service);
    if (watched === undefined) {
      watched = { listeners: new Set(), last: undefined, armedIn: undefined, generation: 0 };
      this.watched.set(service, watched);
    }
    const entry = { listener, onError };
    watched.listeners.add(entry);
    if (watched.last !== undefined) {
      const known = watched.last;
      queueMicrotask(() => watched!.listeners.has(entry) && listener(known));
    }
    try {
      const session = this.ensureSession();
      if (session.connected && watched.armedIn !== session) void this.read(service, session);
      else if (!session.connected) this.startUnreachableTimer();
    } catch (err) {
      const error = err as RpcError;
      queueMicrotask(() => watched!.listeners.has(entry) && onError?.(error));
    }
    return () => {
      watched!.listeners.delete(entry);
      if (watched!.listeners.size === 0 && this.watched.get(service) === watched) this.watched.delete(service);
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.unreachableTimer);
    this.watched.clear();
    const session = this.session;
    this.session = undefined;
    for (const wake of this.connectWaiters) wake();
    if (session === undefined) return;
    // Deleting our nodes first tells watchers at once; closing the session would also
    // remove them, but only after the session timeout if the close does not get through.
    if (session.connected) {
      const deletions = [...this.wanted.values()].map((i) => this.deleteNode(session, i));
      await withTimeout(Promise.all(deletions), this.options.connectTimeoutMs);
    }
    this.wanted.clear();
    session.alive = false;
    session.handle.close();
  }

  private checkOpen(): void {
    if (this.state === 'closed') throw new RpcError(Status.FAILED_PRECONDITION, `registry ${this.uri} is closed`);
  }

  private publish(event: string, extra: Record<string, unknown> = {}): void {
    if (channels.registry.hasSubscribers) channels.registry.publish({ uri: this.uri, event, ...extra });
  }

  private unreachable(detail: string): RpcError {
    return new RpcError(Status.UNAVAILABLE, `ZooKeeper unreachable at ${this.hosts}: ${detail}`);
  }

  /** The current session, opening one if there is none. */
  private ensureSession(): Session {
    if (this.session !== undefined) return this.session;
    const handle = new this.ZooKeeper();
    const session = new Session(handle);
    this.session = session;
    handle.on('connect', () => this.onConnected(session));
    handle.on('connecting', () => this.onDisconnected(session));
    handle.on('close', () => this.onSessionClosed(session));
    handle.init({
      connect: this.hosts,
      timeout: this.options.sessionTimeoutMs,
      debug_level: ZOO_LOG_LEVEL_NONE, // the C client would log every failed connect to stderr
      host_order_deterministic: false,
    });
    return session;
  }

  /** A connected session, waiting up to `connectTimeoutMs` for one. */
  private async connected(): Promise<Session> {
    const deadline = Date.now() + this.options.connectTimeoutMs;
    for (;;) {
      this.checkOpen();
      const session = this.ensureSession();
      if (session.connected) return session;
      const left = deadline - Date.now();
      if (left <= 0) throw this.unreachable(`no session after ${this.options.connectTimeoutMs} ms (it is retried in the background)`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.connectWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.connectWaiters.add(wake);
      });
    }
  }

  private onConnected(session: Session): void {
    if (session !== this.session || !session.alive) return;
    session.connected = true;
    clearTimeout(this.unreachableTimer);
    this.unreachableTimer = undefined;
    this.publish('connected');
    for (const wake of [...this.connectWaiters]) wake();
    // A new session has none of our nodes or watches; a resumed one has both, but a
    // re-read is cheap and catches anything missed.
    for (const [key, instance] of this.withdrawn) {
      this.withdrawn.delete(key);
      void this.deleteNode(session, instance);
    }
    for (const instance of this.wanted.values()) void this.createNode(session, instance);
    for (const service of this.watched.keys()) void this.read(service, session);
  }

  private onDisconnected(session: Session): void {
    if (session !== this.session || !session.connected) return;
    session.connected = false;
    this.publish('disconnected');
    this.startUnreachableTimer();
  }

  /** The handle closed without us: the server expired the session. Start a new one. */
  private onSessionClosed(session: Session): void {
    session.alive = false;
    session.connected = false;
    if (session !== this.session || this.state === 'closed') return;
    this.publish('session-expired');
    this.session = undefined;
    for (const watched of this.watched.values()) watched.armedIn = undefined;
    try {
      this.ensureSession();
      this.startUnreachableTimer();
    } catch (err) {
      this.notifyError(err as RpcError);
    }
  }

  /** Tells watchers once per outage that ZooKeeper cannot be reached (they keep their lists). */
  private startUnreachableTimer(): void {
    if (this.unreachableTimer !== undefined) return;
    this.unreachableTimer = setTimeout(() => {
      this.unreachableTimer = undefined;
      if (this.session?.connected || this.state === 'closed') return;
      const error = this.unreachable(`no session for ${this.options.connectTimeoutMs} ms; serving the last known instance lists`);
      this.publish('unreachable', { error });
      this.notifyError(error);
    }, this.options.connectTimeoutMs);
  }

  private notifyError(error: RpcError): void {
    for (const watched of this.watched.values()) for (const { onError } of watched.listeners) onError?.(error);
  }

  private providers(service: string): string {
    return `${this.root}/${service}/providers`;
  }

  private nodePath(instance: ServiceInstance): string {
    return `${this.providers(instance.service)}/${instanceAddress(instance)}`;
  }

  /** Creates an instance's ephemeral node, replacing one left by an earlier session. Returns the error, if any. */
  private async createNode(session: Session, instance: ServiceInstance): Promise<RpcError | undefined> {
    const path = this.nodePath(instance);
    const data = JSON.stringify({ host: instance.host, port: instance.port, weight: instance.weight, metadata: instance.metadata });
    const made = await session.mkdirp(this.providers(instance.service));
    if (made !== null) return this.failed(`cannot create ${this.providers(instance.service)}`, made.message);
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await session.call((cb) => session.handle.a_create(path, data, ZOO_EPHEMERAL, cb));
      if (created.rc === ZOK) {
        this.publish('registered', { service: instance.service, address: instanceAddress(instance) });
        return undefined;
      }
      if (created.rc !== ZNODEEXISTS) return this.failed(`cannot create ${path}`, `${created.rc} ${created.error}`);
      // Ours already (a resumed session)? Otherwise a previous process's node whose session
      // has not expired yet: this process is the instance now, so it replaces it.
      const existing = await session.call<[{ ephemeralOwner: string }, Buffer | string | null]>((cb) => session.handle.a_get(path, false, cb));
      if (existing.rc === ZOK && existing.result[0].ephemeralOwner === session.handle.client_id && String(existing.result[1]) === data) return undefined;
      if (existing.rc === ZOK || existing.rc === ZNONODE) await session.call((cb) => session.handle.a_delete_(path, -1, cb));
    }
    return this.failed(`cannot create ${path}`, 'another session keeps recreating it');
  }

  private async deleteNode(session: Session, instance: ServiceInstance): Promise<void> {
    const path = this.nodePath(instance);
    const deleted = await session.call((cb) => session.handle.a_delete_(path, -1, cb));
    if (deleted.rc === ZOK) this.publish('deregistered', { service: instance.service, address: instanceAddress(instance) });
    else if (deleted.rc !== ZNONODE) this.withdrawn.set(keyOf(instance), instance); // retried on the next connect
  }

  private failed(what: string, detail: string): RpcError {
    return new RpcError(Status.UNAVAILABLE, `ZooKeeper at ${this.hosts}: ${what}: ${detail}`);
  }

  /**
   * Reads a service's providers and delivers the list if it changed. Arms a child watch
   * unless one is armed in this session already: watches are one-shot, and the callback
   * below reads (and so re-arms) on each event.
   */
  private async read(service: string, session: Session): Promise<void> {
    const watched = this.watched.get(service);
    if (watched === undefined || !session.connected) return;
    const generation = ++watched.generation;
    const path = this.providers(service);
    // The path must exist for a child watch; providers create it too.
    const made = await session.mkdirp(path);
    if (made !== null) return; // connection lost: the next connect reads again
    const arm = watched.armedIn !== session;
    if (arm) watched.armedIn = session;
    const onEvent = (type: number): void => {
      if (watched.armedIn === session) watched.armedIn = undefined;
      // Session events (type -1) also fire pending watches; the session handlers re-read.
      if (type === ZOO_CHILD_EVENT && session === this.session && session.alive) void this.read(service, session);
    };
    const listed = arm
      ? await session.call<[string[]]>((cb) => session.handle.aw_get_children(path, onEvent, cb))
      : await session.call<[string[]]>((cb) => session.handle.a_get_children(path, false, cb));
    if (listed.rc !== ZOK) {
      if (arm && watched.armedIn === session) watched.armedIn = undefined;
      return;
    }
    const instances: ServiceInstance[] = [];
    await Promise.all(
      listed.result[0].map(async (child) => {
        const got = await session.call<[unknown, Buffer | string | null]>((cb) => session.handle.a_get(`${path}/${child}`, false, cb));
        if (got.rc !== ZOK) return; // gone since the listing: the child event follows
        const instance = parseNode(service, String(got.result[1] ?? ''));
        if (instance === undefined) this.publish('bad-instance', { service, address: child });
        else instances.push(instance);
      }),
    );
    if (generation !== watched.generation || this.watched.get(service) !== watched) return;
    const list = sortInstances(instances);
    if (watched.last !== undefined && sameInstances(watched.last, list)) return;
    watched.last = list;
    for (const { listener } of watched.listeners) listener(list);
  }
}

/**
 * Loads the `zookeeper` package (`packageName`, for tests) and opens a `zk://` registry
 * on it. A missing package is FAILED_PRECONDITION naming the fix.
 */
export async function openZooKeeperRegistry(
  hosts: string,
  root: string,
  options: ResolvedRegistryOptions,
  uri?: string,
  packageName?: string,
): Promise<ZooKeeperRegistry> {
  return new ZooKeeperRegistry(await loadZooKeeper(packageName), hosts, root, options, uri);
}

function keyOf(instance: ServiceInstance): string {
  return `${instance.service}/${instanceAddress(instance)}`;
}

function parseNode(service: string, data: string): ServiceInstance | undefined {
  try {
    const o = JSON.parse(data) as Partial<ServiceInstance>;
    return normalizeInstance({ service, host: o.host!, port: o.port!, weight: o.weight, metadata: o.metadata });
  } catch {
    return undefined;
  }
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
