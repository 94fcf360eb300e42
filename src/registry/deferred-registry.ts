import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { InstanceInit, InstancesListener, Registry, WatchErrorListener } from './registry.js';

/**
 * - `idle`: the backend has not been asked for yet;
 * - `loading`: it is being loaded (its promise settles once);
 * - `closed`: {@link DeferredRegistry.close} was called; `backend` is what it closes, if any.
 */
type DeferredState = { readonly kind: 'idle' } | { readonly kind: 'loading'; readonly backend: Promise<Registry> } | { readonly kind: 'closed' };

/**
 * A registry whose backend is loaded on first use (`register` or `watch`): `zk://` opens
 * through one, so that its native package is loaded only by a process that uses it.
 * Until then nothing is loaded; a backend that fails to load fails every `register`, and
 * is reported to every watcher's `onError`, with its error.
 */
export class DeferredRegistry implements Registry {
  private state: DeferredState = { kind: 'idle' };

  constructor(
    readonly uri: string,
    private readonly load: () => Promise<Registry>,
  ) {}

  async register(instance: InstanceInit): Promise<void> {
    await (await this.backend()).register(instance);
  }

  async deregister(instance: InstanceInit): Promise<void> {
    // Nothing was registered before the backend was asked for (or if it failed to load).
    if (this.state.kind !== 'loading') return;
    const backend = await this.state.backend.catch(() => undefined);
    await backend?.deregister(instance);
  }

  watch(service: string, listener: InstancesListener, onError?: WatchErrorListener): () => void {
    const loading = this.backend();
    let stop: (() => void) | undefined;
    let stopped = false;
    loading.then(
      (backend) => {
        if (!stopped && this.state.kind !== 'closed') stop = backend.watch(service, listener, onError);
      },
      (err: unknown) => {
        if (!stopped) onError?.(RpcError.from(err, Status.FAILED_PRECONDITION));
      },
    );
    return () => {
      stopped = true;
      stop?.();
    };
  }

  async close(): Promise<void> {
    const state = this.state;
    this.state = { kind: 'closed' };
    if (state.kind !== 'loading') return;
    const backend = await state.backend.catch(() => undefined);
    await backend?.close();
  }

  /** The backend, loading it on first call; throws FAILED_PRECONDITION once closed. */
  private backend(): Promise<Registry> {
    switch (this.state.kind) {
      case 'closed':
        throw new RpcError(Status.FAILED_PRECONDITION, `registry ${this.uri} is closed`);
      case 'loading':
        return this.state.backend;
      case 'idle': {
        const backend = this.load();
        // Callers see the failure; this only keeps it from being reported as unhandled.
        backend.catch(() => {});
        this.state = { kind: 'loading', backend };
        return backend;
      }
    }
  }
}
