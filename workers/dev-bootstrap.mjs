// Loads the TypeScript worker through tsx when ringrpc runs from its sources (development
// and tests); the compiled package uses dist/workers/handler-worker.js directly and does
// not ship this file. tsx is a devDependency here: ringrpc's sources import their siblings
// as './x.js', which Node's own type stripping (22.18+, 24) does not map to './x.ts'.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./handler-worker.ts');
export default worker.default;
