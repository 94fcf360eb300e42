import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * What a failed native import of a TypeScript module says when Node's type stripping, not
 * the module, is the problem. All of these are raised while the module graph is loaded and
 * linked, before any of its code runs, so loading it again through tsx runs nothing twice:
 * syntax that needs a transform (enum, namespace, parameter properties: unsupported; JSX,
 * decorators: invalid or a plain SyntaxError), `./x.js` or extensionless imports of `.ts`
 * files and directory imports (not found), `.tsx` (unknown extension), `.ts` under
 * node_modules (which Node never strips).
 */
const STRIPPING_LIMITS = new Set([
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_DIR_IMPORT',
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
]);

/** tsx's ESM API, as far as it is used here. */
interface TsxApi {
  register(): unknown;
}

/** How this thread loads TypeScript: undecided, or through tsx's hooks once registered. */
let tsxRegistered = false;

/** Overrides for tests; each defaults to what this Node and this install have. */
export interface ImportModuleOptions {
  /** Whether Node strips types itself (default: `process.features.typescript`). */
  readonly nativeTypeScript?: boolean;
  /** tsx's API, or undefined when it is not installed (default: `import('tsx/esm/api')`). */
  readonly loadTsx?: () => Promise<TsxApi | undefined>;
}

/** True when this Node runs `.ts` files itself: 22.18+, 23.6+, 24 (or 22.6+ with --experimental-strip-types). */
export function nodeStripsTypes(): boolean {
  const features = process.features as { typescript?: string | false };
  return typeof features.typescript === 'string' && features.typescript !== '';
}

async function loadInstalledTsx(): Promise<TsxApi | undefined> {
  try {
    return (await import('tsx/esm/api')) as TsxApi;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && /tsx/.test(e.message)) return undefined;
    throw err;
  }
}

/**
 * Imports a user module (handlers, a worker-lane module) by path. JavaScript loads as is.
 *
 * TypeScript (`.ts`, `.mts`, `.cts`, `.tsx`) needs no build step; the rule for it is:
 * 1. Once tsx's hooks are registered in this thread, everything loads through them.
 * 2. Where Node strips types itself (`process.features.typescript`: Node 22.18+, 23.6+,
 *    24), the module is imported natively first, tsx or not.
 * 3. If that native import fails on a limit of type stripping, not of the module (see
 *    {@link STRIPPING_LIMITS}: `import './x.js'` meaning `./x.ts`, `enum`, `namespace`,
 *    parameter properties, decorators, JSX, `.ts` under node_modules), and tsx is
 *    installed, tsx's hooks are registered for the thread (as `--import tsx` would) and
 *    the module is imported again through them. Those failures all happen before any of
 *    the module's code runs. Errors thrown by the module's own code are never retried.
 * 4. Where Node cannot strip types (Node 20, 22 before 22.18), tsx is registered on
 *    first need, as with `node --import tsx`.
 * 5. Without tsx where it is needed, the error says so: on Node < 22.18 an RpcError
 *    FAILED_PRECONDITION naming the file and `npm install tsx`; on newer Node, the
 *    stripping error with the same advice (or: write `import './x.ts'` with
 *    `rewriteRelativeImportExtensions`, and only erasable syntax).
 *
 * tsx is an optional peer dependency of ringrpc: install it to use TypeScript handlers
 * on Node 20, or TypeScript that type stripping does not cover.
 */
export async function importUserModule(file: string, options: ImportModuleOptions = {}): Promise<Record<string, unknown>> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) throw new RpcError(Status.NOT_FOUND, `module ${file} does not exist`);
  const url = pathToFileURL(absolute).href;
  if (!TYPESCRIPT.test(absolute) || tsxRegistered) return load(file, url);

  const loadTsx = options.loadTsx ?? loadInstalledTsx;
  if (!(options.nativeTypeScript ?? nodeStripsTypes())) {
    const tsx = await loadTsx();
    if (tsx === undefined) {
      throw new RpcError(
        Status.FAILED_PRECONDITION,
        `cannot load module ${file}: TypeScript handler modules on Node < 22.18 need tsx: run \`npm install tsx\` (or compile ${path.basename(file)} to JavaScript)`,
      );
    }
    registerTsx(tsx);
    return load(file, url);
  }

  let native: unknown;
  try {
    return await import(url);
  } catch (err) {
    if (!isStrippingLimit(err)) throw cannotLoad(file, err);
    native = err;
  }
  const tsx = await loadTsx();
  if (tsx === undefined) {
    const message = (native as Error).message.split('\n')[0];
    throw new RpcError(
      Status.FAILED_PRECONDITION,
      `cannot load module ${file} with Node's type stripping (${message}): install tsx (\`npm install tsx\`) for TypeScript that needs more than stripping, such as \`import './x.js'\` of a .ts file or enums`,
      { cause: native },
    );
  }
  registerTsx(tsx);
  // Node may keep the failed module record under its URL (22 does for a failed link), so
  // try it once as it is, then under a URL of its own (which tsx maps to the same file).
  try {
    return await import(url);
  } catch (err) {
    if (!isStrippingLimit(err)) throw cannotLoad(file, err);
  }
  return load(file, `${url}?ringrpc-tsx`);
}

function registerTsx(tsx: TsxApi): void {
  if (tsxRegistered) return;
  tsx.register();
  tsxRegistered = true;
}

function isStrippingLimit(err: unknown): boolean {
  if (err instanceof SyntaxError && (err as NodeJS.ErrnoException).code === undefined) return true;
  const e = err as NodeJS.ErrnoException | undefined;
  // A missing file may be a .ts imported as .js; a missing package is just missing.
  if (e?.code === 'ERR_MODULE_NOT_FOUND') return !/^Cannot find package/.test(e.message);
  return typeof e?.code === 'string' && STRIPPING_LIMITS.has(e.code);
}

function cannotLoad(file: string, err: unknown): RpcError {
  return new RpcError(Status.INVALID_ARGUMENT, `cannot load module ${file}: ${(err as Error).message}`, { cause: err });
}

async function load(file: string, url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw cannotLoad(file, err);
  }
}
