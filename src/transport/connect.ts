import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { RINGRPC_ALPN } from '../protocol/constants.js';
import type { Endpoint } from './endpoint.js';

/**
 * Opens a client's socket to `endpoint`: plain TCP, or TLS when `tlsOptions` is given,
 * offering ringrpc's ALPN identifier (a server that also speaks gRPC on the port tells the
 * two protocols apart by it) and naming the host for SNI unless it is an IP address.
 */
export function connectSocket(endpoint: Endpoint, tlsOptions: ConnectionOptions | undefined): net.Socket {
  if (tlsOptions === undefined) return net.connect({ host: endpoint.host, port: endpoint.port });
  return tls.connect({
    servername: net.isIP(endpoint.host) ? undefined : endpoint.host,
    ALPNProtocols: [RINGRPC_ALPN],
    ...tlsOptions,
    host: endpoint.host,
    port: endpoint.port,
  });
}
