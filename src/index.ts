/**
 * ringrpc: multi-core protobuf RPC for Node.js.
 *
 * Symbols for users of the framework. Protocol internals (codecs, the frame decoder)
 * are in `ringrpc/internal` and do not follow semantic versioning.
 */

// Status and errors
export { Status, statusName, statusFromName, isStatus } from './status.js';
export { RpcError } from './errors.js';

// Services
export { defineService, listServices, localMethodName } from './codec/service-definition.js';
export { loadProto, loadServices, findService, rootFromJson } from './codec/proto-loader.js';
export { messageFromJson, messageToJson } from './codec/json.js';

// Server
export { createServer, Server } from './server/server.js';
export { SERVER_DEFAULTS } from './server/server-options.js';

// Observability
export { serveMetrics } from './observability/metrics-server.js';
export { prometheusText } from './observability/prometheus.js';
export { bearerAuth, bearerToken, tokensFromFile, type BearerAuthOptions } from './interceptors/bearer-auth.js';
export { accessLog, type AccessLogEntry } from './interceptors/access-log.js';
export { createTracing, loadTracing, type Tracing, type TracingOptions } from './tracing/tracing.js';
export type { OpenTelemetryApi, OtelTracerProvider, OtelPropagator } from './tracing/otel-api.js';
export type { ServerInterceptor, ClientInterceptor, ServerCallInfo, ClientCallInfo, CallOutcome, ClientAttempt, AttemptHook } from './pipeline/interceptor.js';

// Client
export { createClient } from './client/client.js';
export { CLIENT_DEFAULTS } from './client/client-options.js';
export { createPool, ConnectionPool } from './client/connection-pool.js';
export { parseEndpoint, formatEndpoint } from './transport/endpoint.js';
export { LOAD_BALANCERS } from './client/client-options.js';

// Service discovery
export { openRegistry } from './client/open-registry.js';
export { parseRegistryUri, isRegistryUri } from './registry/registry-uri.js';
export { StaticRegistry } from './registry/static-registry.js';
export { RegistryServer, startRegistryServer } from './registry/registry-server.js';
export { REGISTRY_DEFAULTS } from './registry/registry-options.js';

// Types
export type { StatusName } from './status.js';
export type { RpcErrorOptions, CallSite, NotRunReason } from './errors.js';
export type { MethodDefinition, MethodKind, ServiceDefinition, MethodMap, RequestOf, ReplyOf } from './codec/service-definition.js';
export type { LoadProtoOptions } from './codec/proto-loader.js';
export type { MessageInit, LongLike, Int64Init } from './codec/message-types.js';
export type { ServerOptions, ResolvedServerOptions } from './server/server-options.js';
export type { ServiceImplementation, ServerState, ServerAddress, AddServiceOptions } from './server/server.js';
export type { WorkerThreadStats } from './worker-lane/worker-lane.js';
export type {
  HandlerContext,
  Handler,
  ServerStreamHandler,
  ClientStreamHandler,
  BidiStreamHandler,
  Peer,
  PeerCertificate,
  Actor,
  ActorContext,
  CallProtocol,
} from './pipeline/handler-context.js';
export type { ActorHooks, ActorInfo } from './actor-lane/actor-host.js';
export type { Lane } from './server/router.js';
export type { MethodStatsSnapshot, ServerStats, ConnectionStats, PooledLaneStats, WorkerLaneStats, ActorLaneStats } from './server/server-stats.js';
export type { ReactorReserveStats, ReserveState } from './worker-lane/reactor-reserve.js';
export type { Client, ClientControls, ClientTarget } from './client/client.js';
export type {
  UnaryMethod,
  Callback,
  ServerStreamMethod,
  ClientStreamMethod,
  BidiStreamMethod,
  ReplyStream,
  RequestSource,
  StreamCallOptions,
} from './client/stub-types.js';
export type {
  ClientOptions,
  ResolvedClientOptions,
  ConnectionOptions,
  PoolOptions,
  ResolvedPoolOptions,
  RetryPolicy,
  ResolvedRetryPolicy,
  RetryBudget,
  MethodOptions,
  ClientTlsOptions,
} from './client/client-options.js';
export type { CallOptions } from './client/call-options.js';
export type { OutlierDetection } from './client/outlier-detection.js';
export type { EndpointStats, EndpointState } from './client/endpoint-connections.js';
export type { MetricsServer } from './observability/metrics-server.js';
export type { BackoffOptions } from './util/backoff.js';
export type { Endpoint } from './transport/endpoint.js';
export type { LoadBalancerName } from './client/client-options.js';
export type { Registry, ServiceInstance, InstanceInit, InstancesListener, WatchErrorListener } from './registry/registry.js';
export type { RegistryOptions } from './registry/registry-options.js';
export type { RegistryLocation } from './registry/registry-uri.js';
export type { RegistrySnapshot } from './registry/registry-server.js';
export type { AdvertiseOptions } from './server/server-options.js';
