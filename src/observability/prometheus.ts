import type { ServerStats } from '../server/server-stats.js';
import type { LatencySnapshot } from '../server/server-stats.js';

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
  /** A histogram in seconds; its series each list their buckets, then _sum and _count. */
  const histogram = (name: string, help: string, series: Array<[Record<string, string>, LatencySnapshot]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const [l, h] of series) {
      for (const [le, n] of h.buckets) out.push(`${name}_bucket${labels({ ...l, le: String(le / 1e6) })} ${n}`);
      out.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${h.count}`);
      out.push(`${name}_sum${labels(l)} ${formatValue(h.sumUs / 1e6)}`);
      out.push(`${name}_count${labels(l)} ${h.count}`);
    }
  };
  const c = stats.connections;
  family('ringrpc_connections_open', 'gauge', 'Open client connections.', [['', c.open]]);
  family('ringrpc_connections_accepted_total', 'counter', 'Connections accepted.', [['', c.accepted]]);
  family('ringrpc_grpc_connections_accepted_total', 'counter', 'Connections accepted that speak gRPC (HTTP/2).', [['', c.grpc]]);
  family('ringrpc_grpc_calls_total', 'counter', 'gRPC calls received, built-in health and reflection calls included.', [['', stats.grpcCalls]]);
  family('ringrpc_connections_closed_total', 'counter', 'Connections the server closed itself, by reason.', [
    ['{reason="idle"}', c.idleClosed],
    ['{reason="protocol_error"}', c.faultClosed],
    ['{reason="not_reading"}', c.overflowClosed],
    ['{reason="frame_timeout"}', c.slowClosed],
    ['{reason="oversized"}', c.oversizedClosed],
    ['{reason="max_connections"}', c.refused],
    ['{reason="tls_handshake"}', c.tlsFailed],
  ]);
  histogram('ringrpc_keepalive_rtt_seconds', "Round trips of the server's keepalive PINGs.", [[{}, c.keepaliveRtt]]);
  family('ringrpc_received_bytes_total', 'counter', 'Bytes read from clients.', [['', stats.bytesIn]]);
  family('ringrpc_sent_bytes_total', 'counter', 'Bytes written to clients.', [['', stats.bytesOut]]);
  family('ringrpc_buffered_input_bytes', 'gauge', 'Bytes held for frames still arriving (declared size), all connections.', [['', stats.bufferedInBytes]]);
  family('ringrpc_buffered_output_bytes', 'gauge', 'Response bytes waiting for slow readers, all connections.', [['', stats.bufferedOutBytes]]);
  family('ringrpc_requests_inflight', 'gauge', 'Requests taken and not yet answered.', [['', stats.inflight]]);

  const methods = Object.entries(stats.methods);
  family(
    'ringrpc_method_requests_total',
    'counter',
    'Requests received, per method.',
    methods.map(([m, s]) => [labels({ method: m }), s.requests]),
  );
  family(
    'ringrpc_method_responses_total',
    'counter',
    'Calls ended, per method and status: answered, cancelled by the client (CANCELLED), past their deadline (DEADLINE_EXCEEDED), or abandoned with their connection.',
    methods.flatMap(([m, s]) => [
      [labels({ method: m, status: 'OK' }), s.ok] as [string, number],
      ...Object.entries(s.errors).map(([status, n]): [string, number] => [labels({ method: m, status }), n]),
    ]),
  );
  family(
    'ringrpc_method_inflight',
    'gauge',
    'Requests in flight, per method.',
    methods.map(([m, s]) => [labels({ method: m }), s.inflight]),
  );
  histogram(
    'ringrpc_method_duration_seconds',
    'Time from reading a request to its end (answer, cancel or abandonment), per method.',
    methods.map(([m, s]) => [{ method: m }, s.latency]),
  );

  const w = stats.workerLane;
  if (w !== undefined) {
    family('ringrpc_worker_threads', 'gauge', 'Threads of the worker lane.', [['', w.workers]]);
    family('ringrpc_worker_inflight', 'gauge', 'Worker-lane requests taken and not yet answered.', [['', w.inflight]]);
    family('ringrpc_worker_queue_depth', 'gauge', 'Worker-lane requests waiting for a batch.', [['', w.queueDepth]]);
    family('ringrpc_worker_utilization_ratio', 'gauge', 'Share of worker time spent running batches since start.', [['', w.utilization]]);
    family('ringrpc_worker_recent_utilization_ratio', 'gauge', 'Share of worker time spent running batches over about the last 10 s.', [
      ['', w.recentUtilization],
    ]);
    family('ringrpc_worker_completed_total', 'counter', 'Worker-lane requests answered.', [['', w.completed]]);
    family('ringrpc_worker_failed_total', 'counter', 'Worker-lane requests answered with an error.', [['', w.failed]]);
    family('ringrpc_worker_batches_total', 'counter', 'Batches sent to workers.', [['', w.batches]]);
    family('ringrpc_worker_restarts_total', 'counter', 'Worker threads replaced after dying.', [['', w.workerRestarts]]);
    family('ringrpc_worker_rerun_total', 'counter', 'Requests run again on another worker because theirs died before taking them up.', [['', w.rerun]]);
    histogram('ringrpc_worker_wait_seconds', 'Time from reading a worker-lane request to handing it to a worker thread.', [[{}, w.wait]]);
    family('ringrpc_worker_run_seconds_mean', 'gauge', 'Mean worker time per request (decode, handler, encode).', [['', w.runMeanUs / 1e6]]);
    const r = w.reactorReserve;
    family('ringrpc_worker_active_threads', 'gauge', 'Worker-lane threads that may run batches now (fewer while a core is kept for the reactor).', [
      ['', r.activeWorkers],
    ]);
    family('ringrpc_reactor_utilization_ratio', 'gauge', "Share of the reactor's time spent running over its last sample.", [['', r.reactorUtilization]]);
    family('ringrpc_worker_reactor_reservations_total', 'counter', 'Times a core was kept for the busy reactor.', [['', r.reservations]]);
    family('ringrpc_worker_reactor_reserved_seconds_total', 'counter', 'Time a core was kept for the busy reactor.', [['', r.reservedMs / 1000]]);
  }
  const a = stats.actorLane;
  if (a !== undefined) {
    family('ringrpc_actor_threads', 'gauge', 'Threads of the actor lane.', [['', a.workers]]);
    family('ringrpc_actor_inflight', 'gauge', 'Actor-lane messages taken and not yet answered.', [['', a.inflight]]);
    family('ringrpc_actor_utilization_ratio', 'gauge', 'Share of actor-lane thread time spent running batches since start.', [['', a.utilization]]);
    family('ringrpc_actor_recent_utilization_ratio', 'gauge', 'Share of actor-lane thread time spent running batches over about the last 10 s.', [
      ['', a.recentUtilization],
    ]);
    family(
      'ringrpc_actor_active',
      'gauge',
      'Actors held, per actor-lane thread.',
      a.activeActors.map((n, shard) => [labels({ shard: String(shard) }), n]),
    );
    family('ringrpc_actor_activations_total', 'counter', 'Actors activated.', [['', a.activations]]);
    family('ringrpc_actor_passivations_total', 'counter', 'Actors passivated (idle, or over maxActorsPerWorker).', [['', a.passivations]]);
    family('ringrpc_actor_hook_failures_total', 'counter', 'Lifecycle hooks that threw.', [
      ['{hook="activate"}', a.activationFailures],
      ['{hook="deactivate"}', a.deactivationFailures],
    ]);
    family('ringrpc_actor_completed_total', 'counter', 'Actor-lane messages answered.', [['', a.completed]]);
    family('ringrpc_actor_failed_total', 'counter', 'Actor-lane messages answered with an error.', [['', a.failed]]);
    family('ringrpc_actor_restarts_total', 'counter', 'Actor-lane threads replaced after dying.', [['', a.workerRestarts]]);
    family('ringrpc_actor_rerun_total', 'counter', 'Messages run on a replacement thread because theirs died before taking them up.', [['', a.rerun]]);
    family('ringrpc_actor_deepest_queue', 'gauge', 'Messages taken and not answered of the busiest key.', [['', a.deepestKeys[0]?.depth ?? 0]]);
    histogram('ringrpc_actor_message_wait_seconds', "Time from a message's arrival in its thread to its handler's start.", [[{}, a.messageWait]]);
    histogram('ringrpc_actor_message_run_seconds', "Time from a message's handler start to its answer.", [[{}, a.messageRun]]);
  }
  return `${out.join('\n')}\n`;
}

function labels(values: Record<string, string>): string {
  if (Object.keys(values).length === 0) return '';
  return `{${Object.entries(values)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')}}`;
}

function formatValue(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}
