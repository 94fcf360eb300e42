import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

let typeScriptHooked = false;

/**
 * Imports a user module by path. TypeScript modules (`.ts`, `.mts`, `.cts`) load through
 * tsx's loader, registered on first need, so `--handlers handlers.ts` works without a
 * build step; compiled `.js` loads as is.
 */
export async function importUserModule(file: string): Promise<Record<string, unknown>> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new RpcError(Status.NOT_FOUND, `module ${file} does not exist`);
  if (/\.[cm]?tsx?$/.test(absolute) && !typeScriptHooked) {
    const { register } = await import('tsx/esm/api');
    register();
    typeScriptHooked = true;
  }
  try {
    return (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `cannot load module ${file}: ${(err as Error).message}`, { cause: err });
  }
}
