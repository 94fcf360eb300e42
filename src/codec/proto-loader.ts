import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { listServices, type ServiceDefinition } from './service-definition.js';

/** Options of {@link loadProto}. */
export interface LoadProtoOptions {
  /** Directories searched for `import`ed files, after the importing file's own directory. */
  readonly includeDirs?: readonly string[];
}

/**
 * The directory holding the `google/protobuf/*.proto` files protobufjs ships but does not
 * bundle (`descriptor.proto` for custom options, `api.proto`, `type.proto`, …). The
 * common well-known types (Timestamp, Duration, the wrappers, Empty, Any, Struct,
 * FieldMask) need no file: protobufjs has them built in.
 */
const PROTOBUFJS_DIR = path.dirname(createRequire(import.meta.url).resolve('protobufjs'));

/**
 * Parses a .proto file (and its imports) at run time. Imports resolve relative to the
 * including file, then to each include dir, then to the first file's directory walking up,
 * so that `import "ringrpc/v1/meta.proto"` works from a file under `proto/`, and last to
 * the well-known types protobufjs ships.
 */
export function loadProto(file: string, options: LoadProtoOptions = {}): protobuf.Root {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new RpcError(Status.NOT_FOUND, `proto file ${file} does not exist`);
  const root = new protobuf.Root();
  const includeDirs = [...(options.includeDirs ?? []), ...ancestors(path.dirname(absolute)), PROTOBUFJS_DIR];
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    const fromOrigin = origin ? path.resolve(path.dirname(origin), target) : path.resolve(target);
    if (existsSync(fromOrigin)) return fromOrigin;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return fromOrigin;
  };
  try {
    root.loadSync(absolute, { keepCase: false });
    root.resolveAll();
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `cannot load ${file}: ${(err as Error).message}`, { cause: err });
  }
  return root;
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    out.push(d);
    if (path.dirname(d) === d) return out;
  }
}

/** Loads a .proto and returns its services (dynamic loading, as the CLI does). */
export function loadServices(file: string, options?: LoadProtoOptions): ServiceDefinition[] {
  return listServices(loadProto(file, options));
}

/**
 * Finds a service by fully qualified name (`bench.v1.Bench`) among loaded ones; the error
 * lists what is there, so a typo is easy to see.
 */
export function findService(services: readonly ServiceDefinition[], name: string): ServiceDefinition {
  const found = services.find((s) => s.name === name);
  if (found) return found;
  const known = services.map((s) => s.name).join(', ') || 'none';
  throw new RpcError(Status.UNIMPLEMENTED, `unknown service ${name} (the .proto defines: ${known})`);
}

/**
 * Rebuilds a root from the JSON descriptor that `ringrpc gen` embeds in generated code
 * (`Root#toJSON()`). It takes any object: the descriptor has keys, such as `protoName`
 * and a map's `keyType`, that protobufjs's `INamespace` typing does not declare, so a
 * generated module would not compile against it.
 */
export function rootFromJson(json: object): protobuf.Root {
  return protobuf.Root.fromJSON(json as protobuf.INamespace);
}
