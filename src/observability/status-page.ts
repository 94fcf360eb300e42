import type { ConnectionStats, ServerStats } from '../server/server-stats.js';
import { escapeHtml as esc } from '../util/html.js';

/** Connections listed on the page, the busiest first; the rest are counted. */
const MAX_LISTED_CONNECTIONS = 50;

/**
 * A small live status page (brpc-style) of a server: connections (each with its traffic
 * and keepalive RTT), per-method counters and latency, the worker lane. Plain HTML that
 * reloads itself every 2 s; no scripts, nothing from the network.
 */
export function statusPage(stats: ServerStats, connections: readonly ConnectionStats[], info: { address: string; startedAt: Date }): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  const pct = (ratio: number): string => `${(ratio * 100).toFixed(1)} %`;
  const ms = (us: number): string => (us >= 1000 ? `${+(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);
  const c = stats.connections;
  const rows = (pairs: Array<[string, string]>): string => pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  const methods = Object.entries(stats.methods)
    .map(([name, s]) => {
      const errors =
        Object.entries(s.errors)
          .map(([k, v]) => `${k} ${n(v)}`)
          .join(', ') || '–';
      const mean = s.latency.count === 0 ? 0 : s.latency.sumUs / s.latency.count;
      return `<tr><td>${esc(name)}</td><td>${n(s.requests)}</td><td>${n(s.ok)}</td><td>${esc(errors)}</td><td>${n(s.inflight)}</td><td>${ms(mean)}</td><td>≤ ${ms(s.latency.p50Us)}</td><td>≤ ${ms(s.latency.p99Us)}</td></tr>`;
    })
    .join('');
  const w = stats.workerLane;
  const a = stats.actorLane;
  /** How many workers may run now, and why not all: a core kept for the busy reactor. */
  const reserveRow = (r: NonNullable<typeof w>['reactorReserve']): string =>
    `${n(r.activeWorkers)}${r.state === 'reserved' ? ' (a core kept for the busy reactor)' : ''}; reactor busy ${pct(r.reactorUtilization)}; kept ${n(r.reservations)}× for ${+(r.reservedMs / 1000).toFixed(1)} s in all`;
  const rtt = c.keepaliveRtt;
  const listed = [...connections].sort((a, b) => b.bytesIn + b.bytesOut - (a.bytesIn + a.bytesOut)).slice(0, MAX_LISTED_CONNECTIONS);
  const now = Date.now();
  const connectionRows = listed
    .map(
      (k) =>
        `<tr><td>${esc(k.peer)}</td><td>${n((now - k.openedAt) / 1000)} s</td><td>${n(k.inflight)}</td><td>${n(k.bytesIn)}</td><td>${n(k.bytesOut)}</td><td>${k.rttMs === undefined ? '–' : ms(k.rttMs * 1000)}</td></tr>`,
    )
    .join('');
  const more = connections.length > listed.length ? `<p>and ${n(connections.length - listed.length)} more</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>ringrpc ${esc(info.address)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#212529}table{border-collapse:collapse;margin:6px 0 18px}
td,th{padding:3px 10px;border-bottom:1px solid #e9ecef;text-align:left}td{font-variant-numeric:tabular-nums}h1{font-size:19px}h2{font-size:15px}</style>
</head><body>
<h1>ringrpc server ${esc(info.address)}</h1>
<table id="server">${rows([
    ['state', stats.state],
    ['started', info.startedAt.toISOString()],
    ['requests in flight', n(stats.inflight)],
    ['bytes in', n(stats.bytesIn)],
    ['bytes out', n(stats.bytesOut)],
  ])}</table>
<h2>Connections</h2>
<table id="connections">${rows([
    ['open', n(c.open)],
    ['accepted', n(c.accepted)],
    ['of which gRPC (HTTP/2)', `${n(c.grpc)} (${n(stats.grpcCalls)} gRPC calls)`],
    ['refused (maxConnections)', n(c.refused)],
    ['idle closes', n(c.idleClosed)],
    ['protocol errors', n(c.faultClosed)],
    ['not reading', n(c.overflowClosed)],
    ['frame timeouts', n(c.slowClosed)],
    ['oversized frames', n(c.oversizedClosed)],
    ['TLS handshake failures', n(c.tlsFailed)],
    ['keepalive RTT', rtt.count === 0 ? '–' : `mean ${ms(rtt.sumUs / rtt.count)}, p99 ≤ ${ms(rtt.p99Us)} (${n(rtt.count)} PINGs)`],
  ])}</table>
<table id="connection-list"><tr><th>peer</th><th>age</th><th>in flight</th><th>bytes in</th><th>bytes out</th><th>keepalive RTT</th></tr>${connectionRows}</table>${more}
<h2>Methods</h2>
<table id="methods"><tr><th>method</th><th>requests</th><th>ok</th><th>errors</th><th>in flight</th><th>mean</th><th>p50</th><th>p99</th></tr>${methods}</table>
${
  w === undefined
    ? ''
    : `<h2>Worker lane</h2>
<table id="worker-lane">${rows([
        ['threads', n(w.workers)],
        ['in flight', n(w.inflight)],
        ['queue depth', `${n(w.queueDepth)} (max ${n(w.maxQueue)})`],
        ['utilisation, last 10 s', pct(w.recentUtilization)],
        ['utilisation since start', pct(w.utilization)],
        ['completed', n(w.completed)],
        ['failed', n(w.failed)],
        ['batches', n(w.batches)],
        ['worker restarts', n(w.workerRestarts)],
        ['re-run after a worker died', n(w.rerun)],
        ['queue wait', w.wait.count === 0 ? '–' : `mean ${ms(w.wait.sumUs / w.wait.count)}, p50 ≤ ${ms(w.wait.p50Us)}, p99 ≤ ${ms(w.wait.p99Us)}`],
        ['run time per request', w.runMeanUs === 0 ? '–' : `mean ${ms(w.runMeanUs)}`],
        ['threads running batches', reserveRow(w.reactorReserve)],
      ])}</table>`
}
${
  a === undefined
    ? ''
    : `<h2>Actor lane</h2>
<table id="actor-lane">${rows([
        ['threads', n(a.workers)],
        ['actors per thread', a.activeActors.map((x) => n(x)).join(' · ')],
        ['in flight', `${n(a.inflight)} (max ${n(a.maxQueue)}, ${n(a.maxActorQueue)} per key)`],
        ['utilisation, last 10 s / since start', `${pct(a.recentUtilization)} / ${pct(a.utilization)}`],
        ['activations / passivations', `${n(a.activations)} / ${n(a.passivations)}`],
        ['hook failures (activate / deactivate)', `${n(a.activationFailures)} / ${n(a.deactivationFailures)}`],
        ['completed / failed', `${n(a.completed)} / ${n(a.failed)}`],
        ['thread restarts / re-run', `${n(a.workerRestarts)} / ${n(a.rerun)}`],
        ['deepest keys', a.deepestKeys.length === 0 ? '–' : a.deepestKeys.map((k) => `${k.key} (${n(k.depth)})`).join(', ')],
        ['message wait', a.messageWait.count === 0 ? '–' : `mean ${ms(a.messageWait.sumUs / a.messageWait.count)}, p99 ≤ ${ms(a.messageWait.p99Us)}`],
        ['message run', a.messageRun.count === 0 ? '–' : `mean ${ms(a.messageRun.sumUs / a.messageRun.count)}, p99 ≤ ${ms(a.messageRun.p99Us)}`],
      ])}</table>`
}
<p><a href="/metrics">/metrics</a> · <a href="/stats.json">/stats.json</a></p>
</body></html>
`;
}
