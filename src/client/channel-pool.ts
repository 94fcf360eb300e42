import { Channel } from './channel.js';
import type { ResolvedClientOptions } from './client-options.js';
import type { Endpoint } from './endpoint.js';

/**
 * The connection to one endpoint: one multiplexed {@link Channel}, opened on first use
 * and replaced when it becomes unusable (lost, GOAWAY, request ids spent). A channel that
 * stops taking calls keeps answering the ones it has until they settle.
 */
export class ChannelPool {
  private current: Channel | undefined;
  private readonly retiring = new Set<Channel>();
  private closed = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ResolvedClientOptions,
  ) {}

  /** A channel that takes new calls, opening one if needed. */
  pick(): Channel {
    const current = this.current;
    if (current !== undefined && current.usable) return current;
    const channel = new Channel(this.endpoint, this.options);
    channel.onUnusable = (c) => {
      if (this.current === c) this.current = undefined;
      if (c.state !== 'closed' && c.pending.size > 0) this.retiring.add(c);
    };
    this.current = channel;
    return channel;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes every channel, letting pending calls settle first. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.retiring];
    if (this.current) all.push(this.current);
    this.current = undefined;
    this.retiring.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  /** Closes every channel now, failing pending calls UNAVAILABLE. */
  destroy(): void {
    this.closed = true;
    this.current?.destroy();
    for (const c of this.retiring) c.destroy();
    this.current = undefined;
    this.retiring.clear();
  }
}
