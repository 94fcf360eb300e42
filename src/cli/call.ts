import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { messageToJson } from '../codec/json.js';
import { loadConfig } from '../config/config.js';
import { createClient } from '../client/client.js';
import { bearerToken } from '../interceptors/bearer-auth.js';
import { CLIENT_DEFAULTS } from '../client/client-options.js';
import { UsageError, envOf, parseCommand, printHelp, type CommandIo, type CommandSpec } from './command.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';
import { CLIENT_TLS_OPTIONS, clientTls } from './tls-flags.js';
import { parseMetadata, requestFromJson, requestsFromJsonLines, resolveMethod } from './method-args.js';
import type { MethodDefinition } from '../codec/service-definition.js';
import { once } from 'node:events';

/** `ringrpc call`: its usage and options, for the parser and `--help` alike. */
export const CALL_COMMAND = {
  name: 'call',
  summary: COMMAND_SUMMARIES.call,
  synopsis: "call <host:port|registry-uri> <package.Service/Method> ['<json request>' | -] --proto <file.proto> [options]",
  description: `Calls one method and prints the reply as proto3 JSON (bytes as base64). The request
defaults to {}. The target may be a registry URI (zk://h:p/root, ringrpc://h:p,
static://h:p,h:p): the call goes to one of the service's registered instances.
Streams: a server-streaming or bidirectional method prints one JSON reply per line, as
they come. A client-streaming or bidirectional method takes its requests as JSON lines
on stdin when the request is -, sent as they are read (else a JSON array of requests,
or one request); a client stream prints its one reply. --timeout covers the whole stream.
On error prints the status name and message, and exits 1.`,
  options: {
    proto: { type: 'string', value: '<file.proto>', required: true, help: '.proto file defining the service' },
    timeout: { type: 'string', value: '<ms>', byDefault: String(CLIENT_DEFAULTS.timeoutMs), env: envOf('timeout'), help: 'deadline of the call' },
    metadata: { type: 'string', value: '<k=v>', multiple: true, help: 'request metadata' },
    token: { type: 'string', value: '<token>', help: 'send authorization: Bearer <token>' },
    key: { type: 'string', value: '<key>', help: "the call's key (Meta.key): the actor it reaches\non the actor lane" },
    config: { type: 'string', value: '<file>', env: 'RINGRPC_CONFIG', help: 'JSON config file (timeoutMs, maxFrameBytes)' },
    ...CLIENT_TLS_OPTIONS,
  },
  positionals: true,
} as const satisfies CommandSpec;

/** `ringrpc call`. */
export async function call(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommand(CALL_COMMAND, argv);
  if (parsed.help) return printHelp(CALL_COMMAND, io);
  const { values, positionals } = parsed;
  if (positionals.length < 2 || positionals.length > 3) throw new UsageError('call takes an address, a method and a JSON request', CALL_COMMAND);
  if (!values.proto) throw new UsageError('call needs --proto', CALL_COMMAND);
  const [target, path, json = '{}'] = positionals as [string, string, string?];
  const { service, method } = resolveMethod(
    values.proto,
    path,
    () => new UsageError(`method must be package.Service/Method (got ${JSON.stringify(path)})`, CALL_COMMAND),
  );
  const streamsRequests = method.kind === 'client_stream' || method.kind === 'bidi_stream';
  if (json === '-' && !streamsRequests)
    throw new UsageError(`requests from stdin (-) are for client and bidirectional streams; ${method.name} takes one`, CALL_COMMAND);
  const request = streamsRequests ? requestSource(method, json, io) : requestFromJson(method, json);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });
  const client = createClient(service, target, {
    timeoutMs: config.timeoutMs,
    maxFrameBytes: config.maxFrameBytes,
    tls: clientTls(values),
    interceptors: values.token === undefined ? [] : [bearerToken(values.token)],
  });
  try {
    const stub = client as unknown as Record<string, (r: unknown, o: object) => Promise<object> | AsyncIterable<object>>;
    const replies = stub[method.localName]!(request, { metadata: parseMetadata(values.metadata ?? []), key: values.key });
    if (method.kind === 'server_stream' || method.kind === 'bidi_stream') {
      for await (const reply of replies as AsyncIterable<object>) {
        // Waiting for stdout to drain holds the stream's credit: a slow reader slows the server.
        if (!io.stdout.write(`${JSON.stringify(messageToJson(method.responseType, reply))}\n`)) await once(io.stdout, 'drain');
      }
      return 0;
    }
    const reply = await (replies as Promise<object>);
    io.stdout.write(`${JSON.stringify(messageToJson(method.responseType, reply), null, 2)}\n`);
    return 0;
  } catch (err) {
    const e = RpcError.from(err);
    io.stderr.write(`${e.codeName}: ${e.message}\n`);
    return 1;
  } finally {
    await client.$close();
  }
}

/** The requests of a client or bidirectional stream: JSON lines from stdin for `-`, else a JSON array of requests (or one request). */
function requestSource(method: MethodDefinition, json: string, io: CommandIo): AsyncIterable<unknown> | unknown[] {
  if (json === '-') return requestsFromJsonLines(method, io.stdin ?? process.stdin);
  const trimmed = json.trimStart();
  if (!trimmed.startsWith('[')) return [requestFromJson(method, json)];
  let list: unknown[];
  try {
    list = JSON.parse(trimmed) as unknown[];
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `requests are not valid JSON: ${(err as Error).message}`);
  }
  return list.map((item, i) => requestFromJson(method, JSON.stringify(item), `request ${i + 1}`));
}
