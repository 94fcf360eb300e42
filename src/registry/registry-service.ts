import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProto } from '../codec/proto-loader.js';
import { defineService, type MethodDefinition, type ServiceDefinition } from '../codec/service-definition.js';

/** An instance as the built-in registry's messages carry it. */
export interface InstanceMessage {
  service: string;
  host: string;
  port: number;
  weight: number;
  metadata: Record<string, string>;
}

/** The built-in registry's rpcs: request and reply of each. */
export interface RegistryMethods {
  register: { request: { leaseId: string; ttlMs: number; instance: InstanceMessage }; reply: { leaseId: string } };
  renew: { request: { leaseId: string }; reply: Record<string, never> };
  deregister: { request: { leaseId: string; service: string; host: string; port: number }; reply: Record<string, never> };
  watch: {
    request: { service: string; epoch: string; version: number; maxWaitMs: number };
    reply: { epoch: string; version: number; instances: InstanceMessage[] };
  };
}

/** The built-in registry's service (proto/ringrpc/v1/registry.proto), typed. */
export type RegistryService = ServiceDefinition<{
  [K in keyof RegistryMethods]: MethodDefinition<RegistryMethods[K]['request'], RegistryMethods[K]['reply']>;
}>;

let definition: RegistryService | undefined;

/**
 * The `ringrpc.v1.Registry` service, loaded once from the .proto shipped with the
 * package (found walking up from this module, so that it works from `src/` and `dist/`).
 */
export function registryService(): RegistryService {
  if (definition !== undefined) return definition;
  const relative = path.join('proto', 'ringrpc', 'v1', 'registry.proto');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, relative))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`${relative} not found above ${fileURLToPath(import.meta.url)}: the package is incomplete`);
    dir = up;
  }
  definition = defineService(loadProto(path.join(dir, relative)), 'ringrpc.v1.Registry') as unknown as RegistryService;
  return definition;
}
