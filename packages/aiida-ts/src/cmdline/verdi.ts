#!/usr/bin/env node
import { runVerdi } from './main.js';

// The exit code is set only once stdout and stderr are flushed, then the process ends even if a library left a
// handle open (a connection pool, a timer): a command's work is done when runVerdi resolves.
const code = await runVerdi(process.argv.slice(2));
process.stdout.write('', () => {
  process.stderr.write('', () => process.exit(code));
});
