import type { ZkHandle } from './zookeeper-package.js';

// ZooKeeper C client codes (zookeeper.h); stable across versions.
/** Return code: success. */
export const ZOK = 0;
/** Return code: the connection to the server was lost (or the session is closed). */
export const ZCONNECTIONLOSS = -4;
/** Return code: the node does not exist. */
export const ZNONODE = -101;
/** Return code: the node exists already. */
export const ZNODEEXISTS = -110;
/** Create flag: the node is deleted when its session ends. */
export const ZOO_EPHEMERAL = 1;
/** Watch event type: a node's children changed. */
export const ZOO_CHILD_EVENT = 4;
/** Log level of the C client: silent. */
export const ZOO_LOG_LEVEL_NONE = 0;

/**
 * One ZooKeeper session. The C client reconnects it by itself (keeping its ephemeral
 * nodes and watches) until the server expires it; then the handle is dead for good and
 * must never be touched again (the binding would crash), so every call checks `alive`.
 */
export class Session {
  alive = true;
  connected = false;
  constructor(readonly handle: ZkHandle) {}

  /** Runs one asynchronous call; a dead session answers "connection loss" without touching the handle. */
  call<T extends unknown[]>(start: (cb: (rc: number, error: string, ...result: T) => void) => void): Promise<{ rc: number; error: string; result: T }> {
    if (!this.alive) return Promise.resolve({ rc: ZCONNECTIONLOSS, error: 'session closed', result: [] as unknown as T });
    return new Promise((resolve) => start((rc, error, ...result) => resolve({ rc, error, result })));
  }

  mkdirp(path: string): Promise<Error | null> {
    if (!this.alive) return Promise.resolve(new Error('session closed'));
    return new Promise((resolve) => this.handle.mkdirp(path, (error) => resolve(error ?? null)));
  }
}
