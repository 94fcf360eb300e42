import { parseArgs } from 'node:util';
import { RpcError } from '../errors.js';
import { messageToJson } from '../codec/json.js';
import { loadConfig } from '../config/config.js';
import { createClient } from '../client/client.js';
import { UsageError, type CommandIo } from './command.js';
import { TLS_FLAGS, clientTls } from './tls-flags.js';
import { parseMetadata, requestFromJson, resolveMethod } from './method-args.js';

export const CALL_USAGE = `ringrpc call <host:port|registry-uri> <package.Service/Method> '<json request>' --proto <file.proto> [options]

Calls one method and prints the reply as proto3 JSON (bytes as base64). The target may
be a registry URI (zk://h:p/root, ringrpc://h:p, static://h:p,h:p): the call goes to one
of the service's registered instances.
On error prints the status name and message, and exits 1.
  --proto        .proto file defining the service
  --timeout      deadline in ms (default 3000, or RINGRPC_TIMEOUT_MS / config)
  --metadata     k=v, repeatable
  --tls          connect with TLS (system CAs); --tls-ca <pem> trusts a private CA,
                 --tls-cert/--tls-key <pem> present a client certificate
  --config       JSON config file`;

/** `ringrpc call`. */
export async function call(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      proto: { type: 'string' },
      timeout: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      config: { type: 'string' },
      ...TLS_FLAGS,
    },
  });
  if (positionals.length < 2 || positionals.length > 3) throw new UsageError('call takes an address, a method and a JSON request', CALL_USAGE);
  if (!values.proto) throw new UsageError('call needs --proto', CALL_USAGE);
  const [target, path, json = '{}'] = positionals as [string, string, string?];
  const { service, method } = resolveMethod(values.proto, path, () => new UsageError(`method must be package.Service/Method (got ${JSON.stringify(path)})`, CALL_USAGE));
  const request = requestFromJson(method, json);
  const config = loadConfig({ flags: values, env: io.env, file: values.config });
  const client = createClient(service, target, { timeoutMs: config.timeoutMs, maxFrameBytes: config.maxFrameBytes, tls: clientTls(values) });
  try {
    const stub = client as unknown as Record<string, (r: unknown, o: object) => Promise<object>>;
    const reply = await stub[method.localName]!(request, { metadata: parseMetadata(values.metadata ?? []) });
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
