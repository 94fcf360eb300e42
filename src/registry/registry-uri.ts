import { RpcError } from '../errors.js';
import { stripUndefined } from '../util/validate.js';
import { Status } from '../status.js';
import { parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import { REGISTRY_OPTION_KEYS, resolveRegistryOptions, type RegistryOptions, type ResolvedRegistryOptions } from './registry-options.js';
import type { Registry } from './registry.js';
import { StaticRegistry } from './static-registry.js';
import { DeferredRegistry } from './deferred-registry.js';
import { RingrpcRegistry, type RegistryClientFactory } from './ringrpc-registry.js';

/** A registry URI, parsed. */
export type RegistryLocation =
  | { readonly kind: 'static'; readonly endpoints: readonly Endpoint[] }
  | { readonly kind: 'ringrpc'; readonly endpoint: Endpoint }
  | { readonly kind: 'zk'; readonly hosts: string; readonly root: string };

/** The ZooKeeper path under which services are kept when a `zk://` URI names none. */
export const DEFAULT_ZK_ROOT = '/ringrpc';

/** True when `text` looks like a registry URI (`scheme://…`) rather than `host:port`. */
export function isRegistryUri(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

/**
 * Parses `static://h1:p1,h2:p2`, `ringrpc://host:port` or `zk://h1:p1[,h2:p2]/root`, with
 * registry options as query parameters (`zk://127.0.0.1:2181/ringrpc?sessionTimeoutMs=4000`).
 * Anything else is INVALID_ARGUMENT naming the URI.
 */
export function parseRegistryUri(uri: string): { location: RegistryLocation; options: ResolvedRegistryOptions } {
  const bad = (why: string): RpcError =>
    new RpcError(
      Status.INVALID_ARGUMENT,
      `invalid registry URI ${JSON.stringify(uri)}: ${why} (expected static://h:p[,h:p], ringrpc://h:p or zk://h:p[,h:p][/root])`,
    );
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(uri.trim());
  if (!match) throw bad('not a URI');
  const scheme = match[1]!.toLowerCase();
  const authority = match[2]!;
  const path = match[3] ?? '';
  const options: Record<string, number> = {};
  for (const [name, value] of new URLSearchParams(match[4] ?? '')) {
    if (!REGISTRY_OPTION_KEYS.includes(name)) throw bad(`unknown parameter ${name} (known: ${REGISTRY_OPTION_KEYS.join(', ')})`);
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) throw bad(`parameter ${name} must be a number`);
    options[name] = n;
  }
  let resolved: ResolvedRegistryOptions;
  try {
    resolved = resolveRegistryOptions(options as RegistryOptions);
  } catch (err) {
    throw bad((err as RpcError).rawMessage);
  }
  const endpoints = (): Endpoint[] => {
    try {
      return authority
        .split(',')
        .filter((s) => s !== '')
        .map(parseEndpoint);
    } catch (err) {
      throw bad((err as RpcError).rawMessage);
    }
  };
  switch (scheme) {
    case 'static':
      if (path !== '' && path !== '/') throw bad('static:// takes no path');
      return { location: { kind: 'static', endpoints: endpoints() }, options: resolved };
    case 'ringrpc': {
      const list = endpoints();
      if (list.length !== 1) throw bad('ringrpc:// takes exactly one host:port');
      if (path !== '' && path !== '/') throw bad('ringrpc:// takes no path');
      return { location: { kind: 'ringrpc', endpoint: list[0]! }, options: resolved };
    }
    case 'zk': {
      const list = endpoints();
      if (list.length === 0) throw bad('zk:// needs at least one host:port');
      const root = path === '' || path === '/' ? DEFAULT_ZK_ROOT : path.replace(/\/+$/, '');
      if (!/^(\/[^/\s]+)+$/.test(root)) throw bad(`invalid ZooKeeper path ${root}`);
      return { location: { kind: 'zk', hosts: authority, root }, options: resolved };
    }
    default:
      throw bad(`unknown scheme ${scheme}://`);
  }
}

/**
 * What opening a registry needs from the layers above registry/, which does not import
 * them: the client factory of `ringrpc://` registries (`createClient`).
 */
export interface RegistryDependencies {
  readonly createClient: RegistryClientFactory;
  /** The module `zk://` loads, default `"zookeeper"`; tests point it at one that does not exist. */
  readonly zookeeperPackage?: string;
}

/**
 * Opens the registry a URI names, with `dependencies` injected; the public
 * `openRegistry` (client/open-registry.ts) passes them. Nothing is contacted yet: the
 * first `register` or `watch` connects, and reports an unreachable registry with the
 * address at fault. `options` override the URI's query parameters.
 * @internal
 */
export function openRegistryWith(uri: string, options: RegistryOptions, dependencies: RegistryDependencies): Registry {
  const parsed = parseRegistryUri(uri);
  const resolved = resolveRegistryOptions({ ...parsed.options, ...stripUndefined(options) });
  const { location } = parsed;
  switch (location.kind) {
    case 'static':
      return new StaticRegistry(location.endpoints, uri);
    case 'ringrpc':
      return new RingrpcRegistry(location.endpoint, resolved, dependencies.createClient, uri);
    case 'zk':
      // Loaded on first use, with the native package it needs: most processes never need either.
      return new DeferredRegistry(uri, async () => {
        const { openZooKeeperRegistry } = await import('./zookeeper-registry.js');
        return openZooKeeperRegistry(location.hosts, location.root, resolved, uri, dependencies.zookeeperPackage);
      });
  }
}
