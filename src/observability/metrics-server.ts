import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { Server } from '../server/server.js';
import { prometheusText } from './prometheus.js';
import { statusPage } from './status-page.js';

/** A running metrics endpoint; `close()` stops it. */
export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves a ringrpc server's numbers over HTTP on their own port: `/metrics` (Prometheus
 * text), `/stats.json` (`server.stats()`, plus `connectionList`: `server.connectionStats()`, which names
 * every client's address), and `/` (a live HTML status page). None of it is authenticated, so it
 * binds to `127.0.0.1` unless `host` says otherwise: expose it only to a scraper you trust.
 */
export async function serveMetrics(server: Server, options: { port: number; host?: string }): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const startedAt = new Date();
  const http_ = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const stats = server.stats();
    const address = server.address ? `${server.address.host}:${server.address.port}` : '(not listening)';
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(prometheusText(stats));
    } else if (path === '/stats.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, connectionList: server.connectionStats() }));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(statusPage(stats, server.connectionStats(), { address, startedAt }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /metrics or /stats.json\n');
    }
  });
  http_.listen(options.port, host);
  try {
    await once(http_, 'listening');
  } catch (err) {
    throw new RpcError(Status.UNAVAILABLE, `cannot serve metrics on ${host}:${options.port}: ${(err as Error).message}`, { cause: err });
  }
  return {
    port: (http_.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        http_.close(() => resolve());
        http_.closeAllConnections();
      }),
  };
}
