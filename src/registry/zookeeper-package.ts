import type { EventEmitter } from 'node:events';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/**
 * The npm package `zk://` registries run on: a binding of the official C client. It is an
 * optional peer dependency (13 MB, built with node-gyp), loaded only when a `zk://`
 * registry is first used, so that nobody else needs it installed or built.
 */
export const ZOOKEEPER_PACKAGE = 'zookeeper';

/** The part of the `zookeeper` package's handle that this backend uses (its callback API). */
export interface ZkHandle extends EventEmitter {
  init(config: object): ZkHandle;
  close(): void;
  readonly client_id: string;
  mkdirp(path: string, cb: (error: Error | null) => void): void;
  a_create(path: string, data: string, flags: number, cb: (rc: number, error: string, path: string) => void): void;
  a_get(path: string, watch: boolean, cb: (rc: number, error: string, stat: { ephemeralOwner: string }, data: Buffer | string | null) => void): void;
  a_delete_(path: string, version: number, cb: (rc: number, error: string) => void): void;
  aw_get_children(path: string, watch: (type: number, state: number, path: string) => void, cb: (rc: number, error: string, children: string[]) => void): void;
  a_get_children(path: string, watch: boolean, cb: (rc: number, error: string, children: string[]) => void): void;
}

/** The package's export: the handle class. */
export type ZkConstructor = new () => ZkHandle;

const loaded = new Map<string, Promise<ZkConstructor>>();

/**
 * Loads the `zookeeper` package (once per process). When it is missing, or installed but
 * unusable (its native build failed), the error is FAILED_PRECONDITION and names the fix.
 * `name` is the module to load: tests point it at one that does not exist.
 */
export function loadZooKeeper(name: string = ZOOKEEPER_PACKAGE): Promise<ZkConstructor> {
  let load = loaded.get(name);
  if (load === undefined) {
    load = importPackage(name);
    loaded.set(name, load);
  }
  return load;
}

async function importPackage(name: string): Promise<ZkConstructor> {
  let module: { default?: unknown };
  try {
    module = (await import(name)) as { default?: unknown };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Not found is the package itself missing only when the message names it; a missing
    // file inside an installed package is a broken install.
    const missing = (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && e.message.includes(`'${name}'`);
    const message = missing
      ? `zk:// registries need the optional peer dependency "${name}": npm install ${name}`
      : `zk:// registries need the optional peer dependency "${name}", which is installed but does not load (${String(e.message).split('\n')[0]}): npm rebuild ${name}`;
    throw new RpcError(Status.FAILED_PRECONDITION, message, { cause: err });
  }
  const ctor = typeof module.default === 'function' ? module.default : module;
  if (typeof ctor !== 'function') {
    throw new RpcError(Status.FAILED_PRECONDITION, `the package "${name}" does not export the ZooKeeper client class: is it the "zookeeper" package?`);
  }
  return ctor as ZkConstructor;
}
