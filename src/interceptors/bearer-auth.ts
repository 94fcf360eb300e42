import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ClientInterceptor, ServerCallInfo, ServerInterceptor } from '../pipeline/interceptor.js';

/** How {@link bearerAuth} checks callers. */
export interface BearerAuthOptions<I> {
  /**
   * The identity a token stands for, or `undefined` (or a throw) when it stands for none:
   * the call is then UNAUTHENTICATED. May be async (a JWT check, a lookup).
   */
  verify(token: string, call: ServerCallInfo): I | undefined | Promise<I | undefined>;
  /** Whether `identity` may call `call.service/call.method`; false: PERMISSION_DENIED. Default: every method. */
  authorize?(identity: I, call: ServerCallInfo): boolean | Promise<boolean>;
  /** Methods callable without a token, as `package.Service/Method` (health checks, say). */
  allowUnauthenticated?: readonly string[];
}

const BEARER = /^Bearer +(\S+)\s*$/i;

/**
 * A server interceptor for bearer tokens (`authorization: Bearer <token>` metadata): a
 * call without one, or with one `verify` does not accept, is refused UNAUTHENTICATED; a
 * method `authorize` refuses is PERMISSION_DENIED. Both before the call reaches any lane.
 * The identity goes to handlers as `ctx.identity` (on every lane; keep it
 * JSON-serialisable), and the token is removed from the metadata handlers see.
 */
export function bearerAuth<I>(options: BearerAuthOptions<I>): ServerInterceptor {
  if (typeof options?.verify !== 'function') throw new RpcError(Status.INVALID_ARGUMENT, 'bearerAuth needs options.verify, a function');
  const open = new Set(options.allowUnauthenticated ?? []);
  return async (call, next) => {
    const site = `${call.service}/${call.method}`;
    const header = call.metadata['authorization'];
    if (header === undefined) {
      if (open.has(site)) return next();
      throw new RpcError(Status.UNAUTHENTICATED, `${site} needs a bearer token (metadata authorization: Bearer <token>)`);
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) throw new RpcError(Status.UNAUTHENTICATED, `${site}: the authorization metadata is not "Bearer <token>"`);
    delete call.metadata['authorization']; // handlers have no use for the secret
    let identity: I | undefined;
    try {
      identity = await options.verify(token, call);
    } catch (err) {
      throw new RpcError(Status.UNAUTHENTICATED, `${site}: the bearer token was refused (${(err as Error).message})`, { cause: err });
    }
    if (identity === undefined) throw new RpcError(Status.UNAUTHENTICATED, `${site}: the bearer token was refused`);
    if (options.authorize !== undefined && !(await options.authorize(identity, call))) {
      throw new RpcError(Status.PERMISSION_DENIED, `${site} is not allowed for this caller`);
    }
    call.identity = identity;
    return next();
  };
}

/**
 * A `verify` for {@link bearerAuth} from a file of accepted tokens, one a line: `<token>`
 * or `<token> <name>`; blank lines and `#` comments are skipped. A token stands for
 * `{ subject: name }` (`token-<line>` without a name). Tokens are compared by their
 * SHA-256, so the lookup's timing says nothing about a token's bytes.
 */
export function tokensFromFile(path: string): (token: string) => { subject: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RpcError(Status.INVALID_ARGUMENT, `cannot read the tokens file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const known = new Map<string, { subject: string }>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [token, ...name] = line.split(/\s+/);
    known.set(digest(token!), { subject: name.join(' ') || `token-${index + 1}` });
  });
  if (known.size === 0) throw new RpcError(Status.INVALID_ARGUMENT, `the tokens file ${path} holds no token`);
  return (token) => known.get(digest(token));
}

/** A client interceptor that sends `authorization: Bearer <token>` with every call; `token` may be a function (refreshed tokens). */
export function bearerToken(token: string | (() => string | Promise<string>)): ClientInterceptor {
  if (typeof token !== 'function' && (typeof token !== 'string' || token === '')) throw new RpcError(Status.INVALID_ARGUMENT, 'bearerToken needs a token');
  return async (call, next) => {
    call.metadata['authorization'] = `Bearer ${typeof token === 'function' ? await token() : token}`;
    return next();
  };
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
