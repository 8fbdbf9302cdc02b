// Runs the supervisor bin from source (tests start it with `node --conditions=source --import tsx`).
import { main } from '../bin.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`openshell-supervisor: ${String(err)}\n`);
    process.exit(125);
  },
);
