import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { findService, loadServices } from '../codec/proto-loader.js';
import { messageFromJson } from '../codec/json.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';

/** The service and method named `package.Service/Method` in a .proto; unknown ones are errors naming what exists. */
export function resolveMethod(protoFile: string, path: string, usage: () => Error): { service: ServiceDefinition; method: MethodDefinition } {
  const slash = path.lastIndexOf('/');
  if (slash <= 0) throw usage();
  const service = findService(loadServices(protoFile), path.slice(0, slash));
  const name = path.slice(slash + 1);
  const method = Object.values(service.methods).find((m) => m.name === name);
  if (method === undefined) {
    throw new RpcError(
      Status.UNIMPLEMENTED,
      `unknown method ${name} of ${service.name} (methods: ${Object.values(service.methods)
        .map((m) => m.name)
        .join(', ')})`,
    );
  }
  return { service, method };
}

/** A request message from proto3 JSON text (or the contents of `file`), checked against the method's type. */
export function requestFromJson(method: MethodDefinition, json: string, source = 'request'): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `${source} is not valid JSON: ${(err as Error).message}`);
  }
  return messageFromJson(method.requestType, parsed);
}

/**
 * Requests from JSON lines (`ringrpc call … -` reads stdin so), one per non-empty line, as
 * they are read: a stream sends each as it comes. A line that is not a request throws
 * INVALID_ARGUMENT naming its number, which cancels the stream.
 */
export async function* requestsFromJsonLines(method: MethodDefinition, input: NodeJS.ReadableStream): AsyncGenerator<unknown> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() !== '') yield requestFromJson(method, line, `stdin line ${n}`);
    }
  } finally {
    lines.close();
  }
}

/** Reads `--data-file`, naming the flag when it cannot. */
export function readDataFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `--data-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** `k=v` pairs (`--metadata`, repeatable) as a metadata object. */
export function parseMetadata(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RpcError(Status.INVALID_ARGUMENT, `--metadata must be key=value (got ${JSON.stringify(pair)})`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `500ms`, `10s`, `2m` or a bare number of ms, for `--duration` and `--warmup`. */
export function parseDurationMs(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new RpcError(Status.INVALID_ARGUMENT, `${flag} must be a duration like 500ms, 10s or 2m (got ${JSON.stringify(text)})`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
}

/** A positive integer flag, e.g. `-c 50`. */
export function parsePositiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new RpcError(Status.INVALID_ARGUMENT, `${flag} must be a positive integer (got ${JSON.stringify(text)})`);
  return n;
}
