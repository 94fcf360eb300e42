import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { createClient } from '../client/client.js';
import { loadConfig } from '../config/config.js';
import { formatLoadResult, runLoad, type LoadOptions } from '../bench/load-generator.js';
import { renderReport } from '../bench/html-report.js';
import { UsageError, type CommandIo } from './command.js';
import { TLS_FLAGS, clientTls } from './tls-flags.js';
import { parseDurationMs, parseMetadata, parsePositiveInt, readDataFile, requestFromJson, resolveMethod } from './method-args.js';

export const BENCH_USAGE = `ringrpc bench <host:port[,host:port…]|registry-uri> <package.Service/Method> --proto <file.proto> [options]

Runs a load against a method and prints requests, errors by status, req/s and latency
percentiles (from an HDR histogram). Calls are never retried: what fails is counted.
With a registry URI (zk://h:p/root, ringrpc://h:p), the load is spread round robin over
the service's registered instances, following the registry as they come and go.
  --proto                .proto file defining the service (loaded at run time)
  --data '<json>'        the request as proto3 JSON (default {})
  --data-file <file>     the request from a file
  -c, --concurrency <n>  calls in flight (default 50); with --rate, the most in flight
  --connections <n>      connections per server (default 1)
  -n, --requests <n>     stop after this many calls, or
  -d, --duration <t>     run this long: 500ms, 10s, 2m (default 10s)
  --warmup <t>           calls made first and not measured (default 1s)
  --timeout <ms>         deadline of each call (default 3000)
  --rate <req/s>         open loop: start calls at this constant rate, latency measured
                         from when each was due (no coordinated omission)
  --metadata k=v         request metadata, repeatable
  --json                 print one JSON object: requests, ok, errors, rps, durationMs, latencyUs
  --html <file>          write a self-contained HTML report (histogram, percentiles and
                         throughput over time, settings, machine)
  --server-stats <url>   include the server's stats in the report (its --metrics-port /stats.json)
  --tls, --tls-ca, --tls-cert, --tls-key   as for call`;

/** `ringrpc bench`. */
export async function bench(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      proto: { type: 'string' },
      data: { type: 'string' },
      'data-file': { type: 'string' },
      concurrency: { type: 'string', short: 'c' },
      connections: { type: 'string' },
      requests: { type: 'string', short: 'n' },
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      rate: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      html: { type: 'string' },
      'server-stats': { type: 'string' },
      config: { type: 'string' },
      ...TLS_FLAGS,
    },
  });
  if (positionals.length !== 2) throw new UsageError('bench takes an address and a method', BENCH_USAGE);
  if (!values.proto) throw new UsageError('bench needs --proto', BENCH_USAGE);
  if (values.data !== undefined && values['data-file'] !== undefined) throw new UsageError('give --data or --data-file, not both', BENCH_USAGE);
  if (values.requests !== undefined && values.duration !== undefined) throw new UsageError('give -n/--requests or -d/--duration, not both', BENCH_USAGE);
  const [target, path] = positionals as [string, string];
  const { service, method } = resolveMethod(values.proto, path, () => new UsageError(`method must be package.Service/Method (got ${JSON.stringify(path)})`, BENCH_USAGE));
  const json = values['data-file'] !== undefined ? readDataFile(values['data-file']) : (values.data ?? '{}');
  const request = requestFromJson(method, json, values['data-file'] !== undefined ? `--data-file ${values['data-file']}` : '--data');
  const metadata = parseMetadata(values.metadata ?? []);
  const concurrency = parsePositiveInt('--concurrency', values.concurrency ?? '50');
  const connections = parsePositiveInt('--connections', values.connections ?? '1');
  const requests = values.requests === undefined ? undefined : parsePositiveInt('--requests', values.requests);
  const durationMs = parseDurationMs('--duration', values.duration ?? '10s');
  const warmupMs = parseDurationMs('--warmup', values.warmup ?? '1s');
  const rate = values.rate === undefined ? undefined : parsePositiveInt('--rate', values.rate);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });

  const client = createClient(service, target, {
    timeoutMs: config.timeoutMs,
    maxFrameBytes: config.maxFrameBytes,
    pool: { connectionsPerEndpoint: connections },
    retry: false,
    tls: clientTls(values),
  });
  const stub = (client as unknown as Record<string, (r: unknown, o: object) => Promise<unknown>>)[method.localName]!;
  const callOptions = metadata === undefined ? {} : { metadata };
  try {
    // One call first: an unreachable target is an error, not a run full of UNAVAILABLE.
    try {
      await stub(request, callOptions);
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
    const run = await runLoad(() => stub(request, callOptions), options);
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
function makeProgressBar(io: CommandIo, wanted: boolean, total: number, byCount: boolean): { update: (p: { elapsedMs: number; completed: number; errors: number; currentRps: number; warmingUp: boolean }) => void; stop: () => void } | undefined {
  const stream = io.stderr as NodeJS.WriteStream;
  if (!wanted || !stream.isTTY) return undefined;
  const bar = new cliProgress.SingleBar({
    stream,
    format: ' {bar} {percentage}% | {phase} | {rps} req/s | {completed} done | {errors} errors',
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(Math.max(1, Math.round(total)), 0, { rps: 0, completed: 0, errors: 0, phase: 'warm-up' });
  return {
    update: (p) => {
      const value = byCount ? p.completed : Math.min(total, p.elapsedMs / 1000);
      bar.update(Math.round(value), { rps: Math.round(p.currentRps).toLocaleString('en-US'), completed: p.completed.toLocaleString('en-US'), errors: p.errors, phase: p.warmingUp ? 'warm-up' : 'measuring' });
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
