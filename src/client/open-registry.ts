import type { RegistryOptions } from '../registry/registry-options.js';
import { openRegistryWith } from '../registry/registry-uri.js';
import type { Registry } from '../registry/registry.js';
import { createClient } from './client.js';

/**
 * Opens the registry a URI names: `static://h1:p1,h2:p2`, `ringrpc://host:port` or
 * `zk://h1:p1[,h2:p2]/root`. Nothing is contacted yet: the first `register` or `watch`
 * connects, and reports an unreachable registry with the address at fault. `options`
 * override the URI's query parameters.
 *
 * It lives above client/ and registry/ because a `ringrpc://` registry is itself a
 * client of the built-in registry service: this is where the two meet, so that
 * registry/ never imports client/.
 */
export function openRegistry(uri: string, options: RegistryOptions = {}): Registry {
  return openRegistryWith(uri, options, { createClient });
}
