import type { ServerStats } from '../server/server.js';

/**
 * `server.stats()` in the Prometheus text exposition format (version 0.0.4). Written here
 * rather than through a metrics library because the numbers already exist as cheap
 * counters on the hot path; a scrape only formats them.
 */
export function prometheusText(stats: ServerStats): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: Array<[string, number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${formatValue(value)}`);
  };
  const c = stats.connections;
  family('ringrpc_connections_open', 'gauge', 'Open client connections.', [['', c.open]]);
  family('ringrpc_connections_accepted_total', 'counter', 'Connections accepted.', [['', c.accepted]]);
  family('ringrpc_connections_closed_total', 'counter', 'Connections the server closed itself, by reason.', [
    ['{reason="idle"}', c.idleClosed],
    ['{reason="protocol_error"}', c.faultClosed],
    ['{reason="not_reading"}', c.overflowClosed],
    ['{reason="frame_timeout"}', c.slowClosed],
    ['{reason="max_connections"}', c.refused],
    ['{reason="tls_handshake"}', c.tlsFailed],
  ]);
  family('ringrpc_received_bytes_total', 'counter', 'Bytes read from clients.', [['', stats.bytesIn]]);
  family('ringrpc_sent_bytes_total', 'counter', 'Bytes written to clients.', [['', stats.bytesOut]]);
  family('ringrpc_requests_inflight', 'gauge', 'Requests taken and not yet answered.', [['', stats.inflight]]);

  const methods = Object.entries(stats.methods);
  family('ringrpc_method_requests_total', 'counter', 'Requests received, per method.', methods.map(([m, s]) => [labels({ method: m }), s.requests]));
  family('ringrpc_method_responses_total', 'counter', 'Requests answered, per method and status.', methods.flatMap(([m, s]) => [
    [labels({ method: m, status: 'OK' }), s.ok] as [string, number],
    ...Object.entries(s.errors).map(([status, n]): [string, number] => [labels({ method: m, status }), n]),
  ]));
  family('ringrpc_method_inflight', 'gauge', 'Requests in flight, per method.', methods.map(([m, s]) => [labels({ method: m }), s.inflight]));
  // A histogram's series each list their buckets, then _sum and _count.
  out.push('# HELP ringrpc_method_duration_seconds Time from reading a request to answering it, per method.', '# TYPE ringrpc_method_duration_seconds histogram');
  for (const [m, s] of methods) {
    for (const [le, n] of s.latency.buckets) out.push(`ringrpc_method_duration_seconds_bucket${labels({ method: m, le: String(le / 1e6) })} ${n}`);
    out.push(`ringrpc_method_duration_seconds_bucket${labels({ method: m, le: '+Inf' })} ${s.latency.count}`);
    out.push(`ringrpc_method_duration_seconds_sum${labels({ method: m })} ${formatValue(s.latency.sumUs / 1e6)}`);
    out.push(`ringrpc_method_duration_seconds_count${labels({ method: m })} ${s.latency.count}`);
  }

  const w = stats.workerLane;
  if (w !== undefined) {
    family('ringrpc_worker_threads', 'gauge', 'Threads of the worker lane.', [['', w.workers]]);
    family('ringrpc_worker_inflight', 'gauge', 'Worker-lane requests taken and not yet answered.', [['', w.inflight]]);
    family('ringrpc_worker_queue_depth', 'gauge', 'Worker-lane requests waiting for a batch.', [['', w.queueDepth]]);
    family('ringrpc_worker_utilization_ratio', 'gauge', 'Share of worker time spent running batches since start.', [['', w.utilization]]);
    family('ringrpc_worker_completed_total', 'counter', 'Worker-lane requests answered.', [['', w.completed]]);
    family('ringrpc_worker_failed_total', 'counter', 'Worker-lane requests answered with an error.', [['', w.failed]]);
    family('ringrpc_worker_batches_total', 'counter', 'Batches sent to workers.', [['', w.batches]]);
    family('ringrpc_worker_restarts_total', 'counter', 'Worker threads replaced after dying.', [['', w.workerRestarts]]);
  }
  return `${out.join('\n')}\n`;
}

function labels(values: Record<string, string>): string {
  return `{${Object.entries(values).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}
