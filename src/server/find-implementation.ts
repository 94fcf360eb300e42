import type { ServiceDefinition } from '../codec/service-definition.js';

/**
 * Finds the handlers of `service` among a module's exports: an export named after the
 * service (`Bench`), or its full name (`'bench.v1.Bench'`) in a default-exported object.
 * Shared by `ringrpc serve` and the worker threads, so both read a module the same way.
 */
export function findImplementation(module: Record<string, unknown>, service: ServiceDefinition | string): Record<string, unknown> | undefined {
  const name = typeof service === 'string' ? service : service.name;
  const short = name.slice(name.lastIndexOf('.') + 1);
  const fallback = module['default'] as Record<string, unknown> | undefined;
  for (const candidate of [module[name], module[short], fallback?.[name], fallback?.[short]]) {
    if (candidate !== null && typeof candidate === 'object') return candidate as Record<string, unknown>;
  }
  return undefined;
}
