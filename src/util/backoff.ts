import * as v from './validate.js';

/** Exponential backoff with jitter and a cap; used by reconnects and by retries. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialMs: number;
  /** Cap on any delay, in ms. */
  maxMs: number;
  /** Growth factor per attempt (at least 1). */
  multiplier: number;
  /**
   * Spread of each delay as a fraction of it, from 0 to 1: a delay `d` becomes a random
   * value in `[d × (1 − jitter), d × (1 + jitter)]`, capped at `maxMs`. Without it, every
   * client that lost the same server would come back at the same instant.
   */
  jitter: number;
}

/**
 * The delay before attempt `attempt + 1` (the first retry is `attempt` 1):
 * `min(maxMs, initialMs × multiplier^(attempt−1))`, jittered. `random` is injectable
 * so that tests can check the bounds exactly.
 */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.multiplier ** Math.max(0, attempt - 1));
  const spread = base * options.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(options.maxMs, Math.round(base + spread)));
}

/** Validates backoff options under `name` (e.g. `reconnect`), filling missing fields from `defaults`. */
export function resolveBackoff(name: string, value: unknown, defaults: Readonly<BackoffOptions>): Readonly<BackoffOptions> {
  if (value === null || typeof value !== 'object') throw v.invalid(name, 'an object', value);
  v.knownKeys(value, Object.keys(defaults), `options.${name}`);
  const o = { ...defaults, ...v.stripUndefined(value as Partial<BackoffOptions>) };
  return checkBackoff(o, { initialMs: `${name}.initialMs`, maxMs: `${name}.maxMs`, multiplier: `${name}.multiplier`, jitter: `${name}.jitter` });
}

/**
 * Checks complete backoff options, naming each field as the caller's options spell it
 * (a retry policy calls them `initialBackoffMs`, `backoffMultiplier`, …); returns them frozen.
 */
export function checkBackoff(o: BackoffOptions, names: Readonly<Record<keyof BackoffOptions, string>>): Readonly<BackoffOptions> {
  v.nonNegativeMs(names.initialMs, o.initialMs);
  v.positiveMs(names.maxMs, o.maxMs);
  if (o.maxMs < o.initialMs) throw v.invalid(names.maxMs, `at least ${names.initialMs.split('.').pop()} (${o.initialMs})`, o.maxMs);
  if (typeof o.multiplier !== 'number' || !(o.multiplier >= 1) || !Number.isFinite(o.multiplier))
    throw v.invalid(names.multiplier, 'a number of at least 1', o.multiplier);
  if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1)) throw v.invalid(names.jitter, 'a number from 0 to 1', o.jitter);
  return Object.freeze({ initialMs: o.initialMs, maxMs: o.maxMs, multiplier: o.multiplier, jitter: o.jitter });
}
