#!/usr/bin/env node
// The pgfloat operator CLI (lib/cli), run from its TypeScript sources via tsx.
import { register } from 'tsx/esm/api';

register();
await import('../lib/cli/bin.ts');
