#!/usr/bin/env node
// The CLI runs from TypeScript sources through tsx so that the installed command never drifts from
// the code in the tree (no separate build step to forget).
require('tsx/cjs');
require('../cli/main.ts');
