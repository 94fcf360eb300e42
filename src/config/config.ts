import { readFileSync } from 'node:fs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/**
 * The keys a ringrpc config file (JSON), the environment and CLI flags can set, with the
 * framework's defaults left to `SERVER_DEFAULTS` / `CLIENT_DEFAULTS`. Precedence:
 * CLI flag > environment > config file > defaults.
 */
export interface RingConfig {
  /** Server: interface to listen on. */
  host?: string;
  /** Server: TCP port. */
  port?: number;
  /** Client: default call deadline in ms. */
  timeoutMs?: number;
  /** Both: heartbeat interval in ms (server idle limit = interval × (missLimit + 1)). */
  heartbeatIntervalMs?: number;
  /** Both: heartbeats that may be missed. */
  heartbeatMissLimit?: number;
  /** Both: frame size limit in bytes. */
  maxFrameBytes?: number;
  /** Server: longest a call may take, in ms (0: no limit). */
  callTimeoutMs?: number;
  /** Server: worker-lane threads. */
  workers?: number;
  /** Server: actor-lane threads. */
  actorWorkers?: number;
  /** Server: the registry URI to announce its services in. */
  registry?: string;
}

type Kind = 'string' | 'integer';

/** The key table: one row per setting, naming its environment variable and flag. */
export const CONFIG_KEYS: ReadonlyArray<{ readonly key: keyof RingConfig; readonly env: string; readonly flag: string; readonly kind: Kind }> = [
  { key: 'host', env: 'RINGRPC_HOST', flag: 'host', kind: 'string' },
  { key: 'port', env: 'RINGRPC_PORT', flag: 'port', kind: 'integer' },
  { key: 'timeoutMs', env: 'RINGRPC_TIMEOUT_MS', flag: 'timeout', kind: 'integer' },
  { key: 'heartbeatIntervalMs', env: 'RINGRPC_HEARTBEAT_INTERVAL_MS', flag: 'heartbeat-interval', kind: 'integer' },
  { key: 'heartbeatMissLimit', env: 'RINGRPC_HEARTBEAT_MISS_LIMIT', flag: 'heartbeat-miss-limit', kind: 'integer' },
  { key: 'maxFrameBytes', env: 'RINGRPC_MAX_FRAME_BYTES', flag: 'max-frame-bytes', kind: 'integer' },
  { key: 'callTimeoutMs', env: 'RINGRPC_CALL_TIMEOUT_MS', flag: 'call-timeout', kind: 'integer' },
  { key: 'workers', env: 'RINGRPC_WORKERS', flag: 'workers', kind: 'integer' },
  { key: 'actorWorkers', env: 'RINGRPC_ACTOR_WORKERS', flag: 'actor-workers', kind: 'integer' },
  { key: 'registry', env: 'RINGRPC_REGISTRY', flag: 'registry', kind: 'string' },
];

/** Where the layers come from. */
export interface ConfigSources {
  /** Parsed CLI flags (strings, as `node:util` parseArgs gives them). */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file (`--config`, else `RINGRPC_CONFIG`). */
  readonly file?: string;
}

/**
 * Merges the layers into one config. Each value is checked where it enters, so an error
 * names its source: `--port`, `RINGRPC_PORT`, or `config.json: port`. Ranges are checked
 * later, once, by the server and client option resolvers.
 */
export function loadConfig(sources: ConfigSources): RingConfig {
  const env = sources.env ?? {};
  const file = sources.file ?? env['RINGRPC_CONFIG'];
  const out: RingConfig = {};
  if (file !== undefined && file !== '') Object.assign(out, readConfigFile(file));
  for (const row of CONFIG_KEYS) {
    const fromEnv = env[row.env];
    if (fromEnv !== undefined && fromEnv !== '') set(out, row.key, parse(fromEnv, row.kind, `environment variable ${row.env}`));
    const fromFlag = sources.flags?.[row.flag];
    if (fromFlag !== undefined) set(out, row.key, parse(String(fromFlag), row.kind, `--${row.flag}`));
  }
  return out;
}

function readConfigFile(file: string): RingConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new RpcError(Status.INVALID_ARGUMENT, `config file ${file} must hold a JSON object`);
  }
  const out: RingConfig = {};
  for (const [key, value] of Object.entries(json)) {
    const row = CONFIG_KEYS.find((r) => r.key === key);
    if (row === undefined) {
      throw new RpcError(
        Status.INVALID_ARGUMENT,
        `config file ${file}: unknown key ${JSON.stringify(key)} (known: ${CONFIG_KEYS.map((r) => r.key).join(', ')})`,
      );
    }
    const ok = row.kind === 'string' ? typeof value === 'string' : Number.isInteger(value);
    if (!ok)
      throw new RpcError(
        Status.INVALID_ARGUMENT,
        `config file ${file}: ${key} must be ${row.kind === 'string' ? 'a string' : 'an integer'} (got ${JSON.stringify(value)})`,
      );
    set(out, row.key, value as string | number);
  }
  return out;
}

function parse(text: string, kind: Kind, source: string): string | number {
  if (kind === 'string') return text;
  if (!/^-?\d+$/.test(text.trim())) throw new RpcError(Status.INVALID_ARGUMENT, `${source} must be an integer (got ${JSON.stringify(text)})`);
  return Number(text);
}

function set(config: RingConfig, key: keyof RingConfig, value: string | number): void {
  (config as Record<string, unknown>)[key] = value;
}
