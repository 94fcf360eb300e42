// Loads the TypeScript worker through tsx when ringrpc runs from its sources (development
// and tests); the compiled package uses dist/workers/handler-worker.js directly.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./handler-worker.ts');
export default worker.default;
