import { readFileSync } from 'node:fs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/** The TLS flags shared by `serve`, `call` and `bench`, as `parseArgs` options. */
export const TLS_FLAGS = {
  tls: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
} as const;

interface TlsFlagValues {
  tls?: boolean | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-ca'?: string | undefined;
}

/** The PEM files the flags name, read; a missing file is an error naming the flag. */
export function readTlsFiles(values: TlsFlagValues): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
  const read = (flag: 'tls-cert' | 'tls-key' | 'tls-ca'): Buffer | undefined => {
    const file = values[flag];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new RpcError(Status.INVALID_ARGUMENT, `--${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const files = { cert: read('tls-cert'), key: read('tls-key'), ca: read('tls-ca') };
  if ((files.cert === undefined) !== (files.key === undefined)) throw new RpcError(Status.INVALID_ARGUMENT, '--tls-cert and --tls-key go together');
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
}

/** Server TLS from the flags: cert + key; with --tls-ca, clients must present a certificate it signed. */
export function serverTls(values: TlsFlagValues): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean } | undefined {
  const files = readTlsFiles(values);
  if (files.cert === undefined) {
    if (values.tls || files.ca !== undefined) throw new RpcError(Status.INVALID_ARGUMENT, 'a TLS server needs --tls-cert and --tls-key');
    return undefined;
  }
  return { cert: files.cert, key: files.key!, ...(files.ca ? { ca: files.ca } : {}), requestCert: files.ca !== undefined };
}

/** Client TLS from the flags: on with --tls or any --tls-* file; --tls-ca trusts a private CA, --tls-cert/--tls-key for mutual TLS. */
export function clientTls(values: TlsFlagValues): { cert?: Buffer; key?: Buffer; ca?: Buffer } | undefined {
  const files = readTlsFiles(values);
  return values.tls || Object.keys(files).length > 0 ? files : undefined;
}
