// Raw `net` length-prefixed echo, the ceiling: frames [u32 length][body]; all replies
// produced while handling one 'data' event leave in one write. Prints "READY <port>".
import net from 'node:net';

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const replies: Buffer[] = [];
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (buf.length - pos < 4 + len) break;
      const reply = Buffer.allocUnsafe(4 + len);
      buf.copy(reply, 0, pos, pos + 4 + len);
      replies.push(reply);
      pos += 4 + len;
    }
    pending = pos < buf.length ? buf.subarray(pos) : undefined;
    buf = undefined as unknown as Buffer;
    if (replies.length === 1) socket.write(replies[0]!);
    else if (replies.length > 1) socket.write(Buffer.concat(replies));
  });
  socket.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${(server.address() as net.AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
