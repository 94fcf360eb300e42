/**
 * Runs every `*.test.ts` under tests/ with uvu, in one process. A test file that leaves a
 * socket, server or timer open would keep the process alive: after the run, anything
 * still holding the event loop is reported and fails the run, since every test must
 * close what it opens. A run that hangs fails after RINGRPC_TEST_TIMEOUT_S (default 1,200 s;
 * a whole run takes 5–8 minutes here): the output above names the file it stopped in.
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const pattern = process.argv[2] ?? '\\.test\\.ts$';
const limitS = Number(process.env.RINGRPC_TEST_TIMEOUT_S ?? 1200);
setTimeout(() => {
  process.stderr.write(`\ntests still running after ${limitS} s: the file printed last hangs\n`);
  process.exit(1);
}, limitS * 1000).unref();

const { suites } = await parse('tests', pattern, {});
await run(suites, { bail: false });

const failed = process.exitCode !== undefined && process.exitCode !== 0;
setTimeout(() => {
  const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
  if (open.length > 0) {
    process.stderr.write(`\ntests left resources open: ${open.join(', ')}\n`);
    process.exit(1);
  }
  process.exit(failed ? 1 : 0);
}, 500).unref();
