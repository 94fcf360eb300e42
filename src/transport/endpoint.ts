import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/** A server address. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/** Parses `host:port` or `[v6]:port`; anything else is INVALID_ARGUMENT naming the text. */
export function parseEndpoint(target: string): Endpoint {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new RpcError(Status.INVALID_ARGUMENT, `invalid address ${JSON.stringify(target)}: expected host:port with a port from 1 to 65535`);
  }
  return { host: (match[1] ?? match[2])!, port };
}
