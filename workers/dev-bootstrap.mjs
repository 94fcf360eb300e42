// Loads the TypeScript worker through tsx when ringrpc runs from its sources (development
// and tests); the compiled package uses dist/workers/handler-worker.js directly and does
// not ship this file. tsx is a devDependency here: ringrpc's sources import their siblings
// as './x.js', which Node's own type stripping (22.18+, 24) does not map to './x.ts'.
//
// No top-level await, and no static import: Piscina first tries `require()` on its worker
// file, which a worker of a process started with `--import tsx` hands to tsx's CommonJS
// hook. A module with top-level await cannot become CommonJS, so that attempt failed in
// esbuild on every worker start (a failed transform is not cached, and it starts esbuild's
// service) before Piscina fell back to `import()`; now the transform succeeds once and is
// cached, and Piscina awaits the exported promise of the handler. tsx's API is imported,
// not required, so that it is the ESM build `--import tsx` has loaded already, not a second
// copy of tsx in CommonJS.
export default import('tsx/esm/api')
  .then(({ register }) => {
    register();
    return import('./handler-worker.ts');
  })
  .then((worker) => worker.default);
