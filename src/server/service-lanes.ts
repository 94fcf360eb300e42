import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { MethodDefinition, ServiceDefinition } from '../codec/service-definition.js';
import type { Lane } from './router.js';

/** The lane of each method named in `addService`'s `lanes` (keyed by stub or .proto name); a bad key or lane is INVALID_ARGUMENT. */
export function resolveLanes(
  service: ServiceDefinition,
  methods: readonly MethodDefinition[],
  byName: Record<string, Lane> | undefined,
): Map<MethodDefinition, Lane> {
  const lanes = new Map<MethodDefinition, Lane>();
  for (const [key, lane] of Object.entries(byName ?? {})) {
    const method = methods.find((m) => m.localName === key || m.name === key);
    if (method === undefined) throw new RpcError(Status.INVALID_ARGUMENT, `lanes of ${service.name} name ${key}, which is not a method of it`);
    if (lane !== 'inline' && lane !== 'worker' && lane !== 'actor')
      throw new RpcError(Status.INVALID_ARGUMENT, `lane of ${method.path} must be "inline", "worker" or "actor" (got ${JSON.stringify(lane)})`);
    lanes.set(method, lane);
  }
  return lanes;
}

/** The absolute path of the module the threads load for a service's worker- and actor-lane methods. */
export function workerModulePath(module: string | URL | undefined, service: ServiceDefinition): string {
  if (module === undefined)
    throw new RpcError(
      Status.INVALID_ARGUMENT,
      `${service.name} has worker- or actor-lane methods: options.workerModule must name the module their threads load`,
    );
  const file = module instanceof URL ? fileURLToPath(module) : module.startsWith('file:') ? fileURLToPath(module) : module;
  return path.resolve(file);
}
