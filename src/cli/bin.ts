#!/usr/bin/env node
import { createLogger } from './logger.js';
import { main } from './main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, logger: createLogger(), env: process.env }).then((code) => {
  process.exitCode = code;
});
