/**
 * gRPC status codes, with the numbers and upper-case names of the wire protocol
 * (spec §Status codes). Every error that crosses ringrpc's API carries one of these.
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A status code number, 0..16. */
export type Status = (typeof Status)[keyof typeof Status];

/** A status code name, e.g. `"DEADLINE_EXCEEDED"`. */
export type StatusName = keyof typeof Status;

const NAMES: readonly StatusName[] = Object.keys(Status) as StatusName[];

/** True when `value` is one of the 17 status numbers. */
export function isStatus(value: unknown): value is Status {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16;
}

/**
 * The spec's name for a status number (`statusName(4) === "DEADLINE_EXCEEDED"`).
 * Numbers outside 0..16 (a newer peer) are shown as `STATUS_<n>` rather than lost.
 */
export function statusName(code: number): string {
  return isStatus(code) ? NAMES[code]! : `STATUS_${code}`;
}

/** The status number for a name, case-insensitive; `undefined` when unknown. */
export function statusFromName(name: string): Status | undefined {
  const key = name.toUpperCase() as StatusName;
  return Object.hasOwn(Status, key) ? Status[key] : undefined;
}
