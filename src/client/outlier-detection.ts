import * as v from '../util/validate.js';

/** See {@link ConnectionOptions.outlierDetection}. */
export interface OutlierDetection {
  /** Failed calls in a row that eject an instance. Default 5. */
  consecutiveFailures: number;
  /** First ejection, in ms. Default 1000. */
  baseEjectionMs: number;
  /** Longest ejection, in ms. Default 30000. */
  maxEjectionMs: number;
}

/** Validates `options.outlierDetection` (`false`: off, undefined) over `defaults`. */
export function resolveOutlierDetection(
  value: Partial<OutlierDetection> | false | undefined,
  defaults: OutlierDetection,
): Readonly<OutlierDetection> | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (value === null || typeof value !== 'object')) throw v.invalid('outlierDetection', 'an object or false', value);
  v.knownKeys(value ?? {}, ['consecutiveFailures', 'baseEjectionMs', 'maxEjectionMs'], 'options.outlierDetection');
  const o = { ...defaults, ...v.stripUndefined(value ?? {}) };
  v.positiveInteger('outlierDetection.consecutiveFailures', o.consecutiveFailures);
  v.positiveMs('outlierDetection.baseEjectionMs', o.baseEjectionMs);
  v.positiveMs('outlierDetection.maxEjectionMs', o.maxEjectionMs);
  if (o.maxEjectionMs < o.baseEjectionMs) throw v.invalid('outlierDetection.maxEjectionMs', `at least baseEjectionMs (${o.baseEjectionMs})`, o.maxEjectionMs);
  return Object.freeze(o);
}
