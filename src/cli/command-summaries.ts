/**
 * Each command's one-line summary: what the top-level help lists, which loads no command
 * (a command's module loads what it runs: the server, the client, the code generator),
 * and what the command's own help says.
 */
export const COMMAND_SUMMARIES = {
  serve: 'start a server for a .proto and a handlers module',
  call: 'call one method and print the reply as JSON',
  bench: 'run a load against a method: req/s, errors, latency percentiles, HTML report',
  registry: 'run the built-in service registry (ringrpc://host:port)',
  gen: 'generate TypeScript types and service definitions from a .proto',
} as const;

/** The commands, in the order the help lists them. */
export type CommandName = keyof typeof COMMAND_SUMMARIES;
