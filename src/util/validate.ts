import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/** Option validation helpers: each throws INVALID_ARGUMENT "options.<name> must be …". */
export function invalid(name: string, requirement: string, value: unknown): RpcError {
  return new RpcError(Status.INVALID_ARGUMENT, `options.${name} must be ${requirement} (got ${describe(value)})`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw invalid(name, 'a positive integer', value);
  return value;
}

export function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(name, 'a non-negative integer', value);
  return value;
}

/**
 * The longest delay a Node timer holds, 2³¹−1 ms (about 24.8 days): a longer one fires
 * after 1 ms instead, so every duration option is capped here rather than misfiring.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** A duration in ms that a timer can hold: a positive integer up to {@link MAX_TIMER_MS}. */
export function positiveMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_TIMER_MS)
    throw invalid(name, `a positive integer of ms, at most ${MAX_TIMER_MS} (about 24.8 days)`, value);
  return value;
}

/** As {@link positiveMs}, 0 allowed (it means none, or at once, as the option says). */
export function nonNegativeMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TIMER_MS)
    throw invalid(name, `a non-negative integer of ms, at most ${MAX_TIMER_MS} (about 24.8 days)`, value);
  return value;
}

export function port(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) throw invalid(name, 'an integer port from 0 to 65535', value);
  return value;
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalid(name, 'a non-empty string', value);
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(name, 'true or false', value);
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw invalid(name, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  return value as T;
}

/** Rejects keys the options object does not know, with a hint for a near miss. */
export function knownKeys(options: object, known: readonly string[], prefix = 'options'): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      throw new RpcError(Status.INVALID_ARGUMENT, `${prefix}.${key} is not a known option${near ? ` (did you mean ${near}?)` : ''}`);
    }
  }
}

/** Drops keys whose value is `undefined`, so that they do not hide defaults when spread. */
export function stripUndefined<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(options) as Array<keyof T>) if (options[key] !== undefined) out[key] = options[key];
  return out;
}

/** An array of functions (interceptors), `[]` when absent. */
export function functions<F extends (...args: never[]) => unknown>(name: string, value: unknown): readonly F[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(name, 'an array of functions', value);
  value.forEach((f, i) => {
    if (typeof f !== 'function') throw invalid(`${name}[${i}]`, 'a function', f);
  });
  return [...value] as F[];
}
