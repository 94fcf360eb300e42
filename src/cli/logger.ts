/** Log levels of the CLI, in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The CLI's structured logger: one line per event to stderr, logfmt or JSON. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Whether `level` is printed: the CLI installs costly sources (an access log) only then. */
  enabled(level: LogLevel): boolean;
}

/**
 * Creates the CLI logger. `RINGRPC_LOG_FORMAT=json` prints JSON lines; `RINGRPC_LOG_LEVEL`
 * sets the threshold (default `info`). Library code never logs: it publishes on
 * `diagnostics_channel`, and the CLI subscribes and logs here.
 */
export function createLogger(stream: NodeJS.WritableStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Logger {
  const json = env['RINGRPC_LOG_FORMAT'] === 'json';
  const threshold = ORDER[(env['RINGRPC_LOG_LEVEL'] as LogLevel) ?? 'info'] ?? ORDER.info;
  const write = (level: LogLevel, message: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[level] < threshold) return;
    const time = new Date().toISOString();
    if (json) {
      stream.write(`${JSON.stringify({ time, level, msg: message, ...fields })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v instanceof Error ? v.message : v)}`)
      .join(' ');
    stream.write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    enabled: (level) => ORDER[level] >= threshold,
  };
}

/**
 * A line that scripts and supervisors wait for on stdout, such as `ringrpc listening on
 * host:port`: as `plain`, or, with `RINGRPC_LOG_FORMAT=json`, a JSON line like the
 * logger's (`{"time","level":"info","msg",...fields}`), so that a JSON log pipeline reads
 * every line the CLI prints.
 */
export function announcement(plain: string, message: string, fields: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  if (env['RINGRPC_LOG_FORMAT'] !== 'json') return `${plain}\n`;
  return `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: message, ...fields })}\n`;
}
