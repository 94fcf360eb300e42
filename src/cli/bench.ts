import { bearerToken } from '../interceptors/bearer-auth.js';
import { writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { createClient } from '../client/client.js';
import { CLIENT_DEFAULTS } from '../client/client-options.js';
import { loadConfig } from '../config/config.js';
import { formatLoadResult, runLoad, type LoadOptions } from '../bench/load-generator.js';
import { renderReport } from '../bench/html-report.js';
import { UsageError, envOf, parseCommand, printHelp, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';
import { CLIENT_TLS_OPTIONS, clientTls } from './tls-flags.js';
import { parseDurationMs, parseMetadata, parsePositiveInt, readDataFile, requestFromJson, resolveMethod } from './method-args.js';

/** `ringrpc bench`: its usage and options, for the parser and `--help` alike. */
export const BENCH_COMMAND = {
  name: 'bench',
  summary: COMMAND_SUMMARIES.bench,
  synopsis: 'bench <host:port[,host:port…]|registry-uri> <package.Service/Method> --proto <file.proto> [options]',
  description: `Runs a load against a method and prints requests, errors by status, req/s and latency
percentiles (from an HDR histogram). Calls are never retried: what fails is counted.
With several addresses, or a registry URI (zk://h:p/root, ringrpc://h:p), each call goes to
the less busy of two instances picked at random, following the registry as they come and go.`,
  options: {
    proto: { type: 'string', value: '<file.proto>', required: true, help: '.proto file defining the service (loaded at run time)' },
    data: { type: 'string', value: "'<json>'", byDefault: '{}', help: 'the request as proto3 JSON' },
    'data-file': { type: 'string', value: '<file>', help: 'the request from a file (instead of --data)' },
    concurrency: { type: 'string', short: 'c', value: '<n>', byDefault: '50', help: 'calls in flight; with --rate, the most in flight' },
    connections: { type: 'string', value: '<n>', byDefault: '1', help: 'connections per server' },
    requests: { type: 'string', short: 'n', value: '<n>', help: 'stop after this many calls (instead of --duration)' },
    duration: { type: 'string', short: 'd', value: '<t>', byDefault: '10s', help: 'run this long: 500ms, 10s, 2m' },
    warmup: { type: 'string', value: '<t>', byDefault: '1s', help: 'calls made first and not measured' },
    timeout: { type: 'string', value: '<ms>', byDefault: String(CLIENT_DEFAULTS.timeoutMs), env: envOf('timeout'), help: 'deadline of each call' },
    rate: {
      type: 'string',
      value: '<req/s>',
      byDefault: 'none, closed loop',
      help: 'open loop: start calls at this constant rate, latency measured\nfrom when each was due (no coordinated omission)',
    },
    metadata: { type: 'string', value: '<k=v>', multiple: true, help: 'request metadata' },
    token: { type: 'string', value: '<token>', help: 'send authorization: Bearer <token>' },
    key: { type: 'string', value: '<key>', help: 'every call carries this key (Meta.key)' },
    keys: { type: 'string', value: '<n>', help: 'each call carries one of n keys, uniformly at\nrandom (key-0 … key-<n-1>): load over n actors' },
    json: { type: 'boolean', help: 'print one JSON object: requests, ok, errors, rps, durationMs, latencyUs' },
    html: { type: 'string', value: '<file>', help: 'write a self-contained HTML report (histogram, percentiles and\nthroughput over time, settings, machine)' },
    'server-stats': { type: 'string', value: '<url>', help: "include the server's stats in the report (its --metrics-port /stats.json)" },
    config: { type: 'string', value: '<file>', env: 'RINGRPC_CONFIG', help: 'JSON config file (timeoutMs, maxFrameBytes)' },
    ...CLIENT_TLS_OPTIONS,
  },
  positionals: true,
} as const satisfies CommandSpec;

const { options: OPTIONS } = BENCH_COMMAND;

/** `ringrpc bench`. */
export async function bench(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommand(BENCH_COMMAND, argv);
  if (parsed.help) return printHelp(BENCH_COMMAND, io);
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new UsageError('bench takes an address and a method', BENCH_COMMAND);
  if (!values.proto) throw new UsageError('bench needs --proto', BENCH_COMMAND);
  if (values.data !== undefined && values['data-file'] !== undefined) throw new UsageError('give --data or --data-file, not both', BENCH_COMMAND);
  if (values.requests !== undefined && values.duration !== undefined) throw new UsageError('give -n/--requests or -d/--duration, not both', BENCH_COMMAND);
  const [target, path] = positionals as [string, string];
  const { service, method } = resolveMethod(
    values.proto,
    path,
    () => new UsageError(`method must be package.Service/Method (got ${JSON.stringify(path)})`, BENCH_COMMAND),
  );
  const json = values['data-file'] !== undefined ? readDataFile(values['data-file']) : (values.data ?? OPTIONS.data.byDefault);
  const request = requestFromJson(method, json, values['data-file'] !== undefined ? `--data-file ${values['data-file']}` : '--data');
  const metadata = parseMetadata(values.metadata ?? []);
  const concurrency = parsePositiveInt('--concurrency', values.concurrency ?? OPTIONS.concurrency.byDefault);
  const connections = parsePositiveInt('--connections', values.connections ?? OPTIONS.connections.byDefault);
  const requests = values.requests === undefined ? undefined : parsePositiveInt('--requests', values.requests);
  const durationMs = parseDurationMs('--duration', values.duration ?? OPTIONS.duration.byDefault);
  const warmupMs = parseDurationMs('--warmup', values.warmup ?? OPTIONS.warmup.byDefault);
  const rate = values.rate === undefined ? undefined : parsePositiveInt('--rate', values.rate);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });

  const client = createClient(service, target, {
    timeoutMs: config.timeoutMs,
    maxFrameBytes: config.maxFrameBytes,
    pool: { connectionsPerEndpoint: connections },
    retry: false,
    tls: clientTls(values),
    interceptors: values.token === undefined ? [] : [bearerToken(values.token)],
  });
  const stub = (client as unknown as Record<string, (r: unknown, o: object) => Promise<unknown>>)[method.localName]!;
  if (values.key !== undefined && values.keys !== undefined) throw new UsageError('--key and --keys exclude each other', BENCH_COMMAND);
  const keyCount = values.keys === undefined ? undefined : parsePositiveInt('--keys', values.keys);
  const callOptions = { ...(metadata === undefined ? {} : { metadata }), ...(values.key === undefined ? {} : { key: values.key }) };
  const optionsOfCall = keyCount === undefined ? () => callOptions : () => ({ ...callOptions, key: `key-${Math.floor(Math.random() * keyCount)}` });
  try {
    // One call first: an unreachable target is an error, not a run full of UNAVAILABLE.
    try {
      await stub(request, optionsOfCall());
    } catch (err) {
      const e = RpcError.from(err);
      if (e.code === Status.UNAVAILABLE) throw new RpcError(Status.UNAVAILABLE, `cannot reach ${target}: ${e.rawMessage}`, { cause: e });
    }

    const settings: Record<string, string | number> = {
      target,
      method: path,
      concurrency,
      connections,
      ...(requests !== undefined ? { requests } : { duration: `${durationMs} ms` }),
      warmup: `${warmupMs} ms`,
      'timeout per call': `${client.$options.timeoutMs} ms`,
      ...(rate !== undefined ? { rate: `${rate} req/s (open loop)` } : { mode: 'closed loop' }),
      'request bytes': method.requestType.encode(request as object).finish().length,
      ...(values.key !== undefined ? { key: values.key } : {}),
      ...(keyCount !== undefined ? { keys: `${keyCount}, uniformly at random` } : {}),
    };
    const bar = makeProgressBar(io, !values.json, requests ?? durationMs / 1000, requests !== undefined);
    const options: LoadOptions = {
      concurrency,
      durationMs,
      warmupMs,
      ...(requests !== undefined ? { requests } : {}),
      ...(rate !== undefined ? { rate } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    };
    const run = await runLoad(() => stub(request, optionsOfCall()), options);
    bar?.stop();

    if (values.json) io.stdout.write(`${JSON.stringify(run.result)}\n`);
    else io.stdout.write(`${formatLoadResult(`${path} @ ${target}`, run.result)}\n`);
    if (values.html !== undefined) {
      const serverStats = values['server-stats'] === undefined ? undefined : await fetchStats(values['server-stats'], io);
      writeFileSync(values.html, renderReport({ title: 'ringrpc bench', sections: [{ title: `${path} @ ${target}`, settings, run }], serverStats }));
      io.stderr.write(`report written to ${values.html}\n`);
    }
    return 0;
  } finally {
    await client.$close();
  }
}

/** A live bar on stderr (req/s, errors), only when stderr is a terminal. */
function makeProgressBar(
  io: CommandIo,
  wanted: boolean,
  total: number,
  byCount: boolean,
): { update: (p: { elapsedMs: number; completed: number; errors: number; currentRps: number; warmingUp: boolean }) => void; stop: () => void } | undefined {
  const stream = io.stderr as NodeJS.WriteStream;
  if (!wanted || !stream.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: ' {bar} {percentage}% | {phase} | {rps} req/s | {completed} done | {errors} errors',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, Math.round(total)), 0, { rps: 0, completed: 0, errors: 0, phase: 'warm-up' });
  return {
    update: (p) => {
      const value = byCount ? p.completed : Math.min(total, p.elapsedMs / 1000);
      bar.update(Math.round(value), {
        rps: Math.round(p.currentRps).toLocaleString('en-US'),
        completed: p.completed.toLocaleString('en-US'),
        errors: p.errors,
        phase: p.warmingUp ? 'warm-up' : 'measuring',
      });
    },
    stop: () => bar.stop(),
  };
}

async function fetchStats(url: string, io: CommandIo): Promise<unknown> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } catch (err) {
    io.stderr.write(`server stats from ${url} left out of the report: ${(err as Error).message}\n`);
    return undefined;
  }
}
