import * as v from '../util/validate.js';

/** Options of a registry client (any backend); in a URI, as query parameters. */
export interface RegistryOptions {
  /**
   * How long `register()` and a watch's first list wait for the registry before they
   * report it unreachable, in ms. The attempt goes on in the background. Default 5000.
   */
  connectTimeoutMs?: number;
  /**
   * `zk://`: the ZooKeeper session timeout, in ms: how long after a provider dies (or
   * stalls) its instance disappears. The server clamps it to its own bounds. Default 10000.
   */
  sessionTimeoutMs?: number;
  /**
   * `ringrpc://`: the lease a provider holds, in ms; it is renewed every third of it, and
   * the registry drops the provider's instances when it lapses. Default 10000.
   */
  leaseTtlMs?: number;
  /** `ringrpc://`: longest a watch call waits for a change before it is answered anyway, in ms. Default 30000. */
  watchWaitMs?: number;
}

export type ResolvedRegistryOptions = Readonly<Required<RegistryOptions>>;

/** Defaults of {@link RegistryOptions}. */
export const REGISTRY_DEFAULTS: ResolvedRegistryOptions = Object.freeze({
  connectTimeoutMs: 5000,
  sessionTimeoutMs: 10_000,
  leaseTtlMs: 10_000,
  watchWaitMs: 30_000,
});

const KEYS = Object.keys(REGISTRY_DEFAULTS) as Array<keyof RegistryOptions>;

/** Validates registry options once and fills in the defaults; errors name the option. */
export function resolveRegistryOptions(options: RegistryOptions = {}): ResolvedRegistryOptions {
  v.knownKeys(options, KEYS);
  const o = { ...REGISTRY_DEFAULTS, ...v.stripUndefined(options) };
  v.positiveMs('connectTimeoutMs', o.connectTimeoutMs);
  v.positiveMs('sessionTimeoutMs', o.sessionTimeoutMs);
  v.positiveMs('leaseTtlMs', o.leaseTtlMs);
  v.positiveMs('watchWaitMs', o.watchWaitMs);
  if (o.leaseTtlMs < 300) throw v.invalid('leaseTtlMs', 'at least 300 (it is renewed every third of it)', o.leaseTtlMs);
  return Object.freeze(o);
}

/** The option names a URI's query may set. */
export const REGISTRY_OPTION_KEYS: readonly string[] = KEYS;
