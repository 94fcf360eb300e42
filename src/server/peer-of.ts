import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Peer, PeerCertificate } from '../pipeline/handler-context.js';

/**
 * The peer of an accepted connection: address and port, and under mutual TLS the identity
 * of the certificate the server verified (read once per connection, not per call).
 */
export function peerOf(socket: Socket): Peer {
  const address = socket.remoteAddress ?? '';
  const port = socket.remotePort ?? 0;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return { address, port };
  const cert = socket.getPeerCertificate();
  if (cert === null || Object.keys(cert).length === 0) return { address, port };
  const certificate: PeerCertificate = {
    // A repeated attribute (two OUs) comes as an array: joined, as a subject line shows it.
    subject: Object.fromEntries(Object.entries(cert.subject ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
    subjectAltNames: cert.subjectaltname === undefined ? [] : cert.subjectaltname.split(', '),
    fingerprint256: cert.fingerprint256,
  };
  return { address, port, certificate };
}
