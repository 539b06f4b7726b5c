// Loopback ports for servers that listen a moment later: one process never
// gets the same port twice, though each is still free when it is handed out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freeLoopbackPort } from '../../lib/local/dynamodb-local.js';

test('freeLoopbackPort never hands out a port twice in one process', async () => {
  // Act: far more picks than a cluster makes, so that random picks would collide
  const ports: number[] = [];
  for (let i = 0; i < 600; i++) ports.push(await freeLoopbackPort());
  // Assess
  assert.equal(new Set(ports).size, ports.length);
});
