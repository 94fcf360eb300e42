import type http2 from 'node:http2';

/** What a raw HTTP/2 gRPC exchange got back: the HTTP status, both header blocks, the DATA, and how the stream ended. */
export interface RawOutcome {
  readonly httpStatus: number;
  readonly headers: http2.IncomingHttpHeaders;
  /** Trailers; for a trailers-only answer, the headers again. */
  readonly trailers: http2.IncomingHttpHeaders;
  readonly data: Buffer;
  /** The RST_STREAM code the stream ended with (0: none, or NO_ERROR). */
  readonly rstCode: number;
  /** `grpc-status` from the trailers (or the trailers-only headers). */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string | undefined;
}

/** A length-prefixed message: flag, 32-bit length, bytes (`declared` overrides the length). */
export function frameMessage(body: Uint8Array, options: { compressed?: boolean; flag?: number; declared?: number } = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = options.flag ?? (options.compressed ? 1 : 0);
  prefix.writeUInt32BE(options.declared ?? body.length, 1);
  return Buffer.concat([prefix, body]);
}

/**
 * One request on `session`: `path`, gRPC headers (overridable), `chunks` written as DATA,
 * then END_STREAM. Resolves when the stream closes.
 */
export function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  chunks: readonly Uint8Array[],
  headers: http2.OutgoingHttpHeaders = {},
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const data: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (d: Buffer) => data.push(d));
    stream.on('error', () => {});
    stream.on('close', () => {
      const t = trailers ?? responseHeaders;
      const status = t['grpc-status'];
      resolve({
        httpStatus: Number(responseHeaders[':status']),
        headers: responseHeaders,
        trailers: t,
        data: Buffer.concat(data),
        rstCode: stream.rstCode ?? 0,
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: t['grpc-message'] === undefined ? undefined : decodeURIComponent(String(t['grpc-message'])),
      });
    });
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}
