#!/usr/bin/env node
// Entry point of the `taylorlens` binary: run one command, then exit with its code.
import { processIo } from './io.js';
import { main } from './program.js';

const code = await main(process.argv.slice(2), processIo());
// Exit explicitly (once stdout has drained): a backend may keep handles open that would hold the process.
process.stdout.write('', () => process.exit(code));
