/**
 * The ZooKeeper the tests use: `scripts/zookeeper.sh start` runs one on 127.0.0.1:21810
 * (`.ci/run` does it); `ZK_CONNECT` points elsewhere. Without one, ZooKeeper tests are
 * skipped with a plain message, except under `CI=true`, where they fail.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

export const ZK_ADDRESS = process.env['ZK_CONNECT'] ?? '127.0.0.1:21810';
const ZK_DIR = process.env['ZK_DIR'] ?? '/tmp/ringrpc-zk';
let counter = 0;

/** ZooKeeper's `srvr` answer, or undefined when nothing answers. */
export function zookeeperStatus(address = ZK_ADDRESS): Promise<string | undefined> {
  const [host, port] = address.split(',')[0]!.split(':') as [string, string];
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(Number(port), host, () => socket.end('srvr'));
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', () => resolve(undefined));
    socket.on('close', () => resolve(/Mode: /.test(text) ? text : undefined));
  });
}

let warned = false;

/**
 * True when ZooKeeper serves. Otherwise: under CI=true an error (the tests must run
 * there); elsewhere false, after saying once that the ZooKeeper tests are skipped.
 */
export async function haveZooKeeper(): Promise<boolean> {
  if ((await zookeeperStatus()) !== undefined) return true;
  const why = `no ZooKeeper serving at ${ZK_ADDRESS} (start one with scripts/zookeeper.sh start, or set ZK_CONNECT)`;
  if (process.env['CI'] === 'true') throw new Error(`ZooKeeper tests cannot run: ${why}`);
  if (!warned) process.stderr.write(`\n  ZooKeeper tests SKIPPED: ${why}\n`);
  warned = true;
  return false;
}

/** A zk:// URI with a root of its own, so that tests do not see each other's nodes. */
export function zkUri(name: string, params = 'sessionTimeoutMs=2000&connectTimeoutMs=3000'): string {
  return `zk://${ZK_ADDRESS}/ringrpc-test-${process.pid}-${++counter}-${name}?${params}`;
}

/** True when the ZooKeeper is the one scripts/zookeeper.sh runs, so that tests may stop and start it. */
export function zookeeperIsManaged(): boolean {
  return process.env['ZK_CONNECT'] === undefined && existsSync(`${ZK_DIR}/zk.pid`);
}

const run = promisify(execFile);

/**
 * Stops, starts (on wiped data) or restarts (on the same data) the managed ZooKeeper, or
 * with `port` another one of the script's, on that port with a data dir of its own.
 */
export async function zookeeper(command: 'stop' | 'start' | 'restart', port?: number): Promise<void> {
  const env = port === undefined ? { ZK_DIR } : { ZK_DIR: `${ZK_DIR}-${port}`, ZK_PORT: String(port) };
  await run('bash', ['scripts/zookeeper.sh', command], { env: { ...process.env, ...env } });
}
