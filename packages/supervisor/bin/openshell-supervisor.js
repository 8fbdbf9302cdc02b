#!/usr/bin/env node
import { main } from '../dist/bin.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`openshell-supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(125);
  },
);
