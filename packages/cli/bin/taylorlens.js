#!/usr/bin/env node
// Thin shim so the bin exists before the first build; the CLI lives in dist/.
import("../dist/main.js");
