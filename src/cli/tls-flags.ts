import { readFileSync } from 'node:fs';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { OptionTable } from './command.js';

/** The TLS options of `call` and `bench`: the client side. */
export const CLIENT_TLS_OPTIONS = {
  tls: { type: 'boolean', help: 'connect with TLS, trusting the system CAs' },
  'tls-ca': { type: 'string', value: '<pem>', help: 'connect with TLS, trusting this CA (a private one)' },
  'tls-cert': { type: 'string', value: '<pem>', help: 'with --tls-key: present this client certificate (mutual TLS)' },
  'tls-key': { type: 'string', value: '<pem>', help: 'the key of --tls-cert' },
} as const satisfies OptionTable;

/** The TLS options of `serve`: the same flags as {@link CLIENT_TLS_OPTIONS}, server side. */
export const SERVER_TLS_OPTIONS = {
  tls: { type: 'boolean', help: 'serve TLS; needs --tls-cert and --tls-key' },
  'tls-cert': { type: 'string', value: '<pem>', help: 'serve TLS with this certificate' },
  'tls-key': { type: 'string', value: '<pem>', help: 'the key of --tls-cert' },
  'tls-ca': { type: 'string', value: '<pem>', help: 'with TLS: require client certificates signed by this CA (mutual TLS)' },
} as const satisfies OptionTable;

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
