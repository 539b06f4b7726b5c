// The pure parts: configuration text, quoting, pg_controldata output, node
// settings, slot names and configuration validation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConf, replaceManagedBlock, setConfEntries, removeConfEntries, MANAGED_BEGIN, MANAGED_END } from '../../lib/postgres/conf-text.js';
import { buildConninfo, formatConfValue, parseConninfo, quoteIdent, quoteLiteral } from '../../lib/postgres/quote.js';
import { parseControlData, isCleanShutdown } from '../../lib/postgres/controldata.js';
import { copiedAutoConfKeys, hbaLines, nodeSettings, nodeSettingsBlock } from '../../lib/postgres/settings.js';
import { resolveNodeConfig } from '../../lib/postgres/config.js';
import { slotNameFor } from '../../lib/postgres/slots.js';
import { timelineOfWalFile } from '../../lib/postgres/status.js';
import { ControlDataError, InvalidConfigError } from '../../lib/postgres/errors.js';

const CONTROLDATA = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7710774842034071030
Database cluster state:               shut down in recovery
pg_control last modified:             Sat Nov 21 23:44:29 2026
Latest checkpoint location:           0/17414F8
Latest checkpoint's REDO location:    0/1741400
Latest checkpoint's TimeLineID:       2
Latest checkpoint's oldestCommitTsXid:0
Minimum recovery ending location:     0/3000060
Min recovery ending loc's timeline:   3
wal_log_hints setting:                off
Data page checksum version:           1
`;

function config(overrides: Record<string, unknown> = {}) {
  return resolveNodeConfig({ name: 'n1', dataDir: '/d/n1', socketDir: '/s', port: 5433, ...overrides });
}

describe('configuration text', () => {
  test('reads quoted, escaped and bare values, the last assignment winning', () => {
    // Prepare
    const text = [
      '# comment',
      "primary_conninfo = 'host=a user=''x'' pass=\\\\y' # trailing",
      'Port=5432',
      'port = 6543',
      "include 'other.conf'",
    ].join('\n');

    // Act
    const conf = parseConf(text);

    // Assess
    assert.equal(conf.get('primary_conninfo'), "host=a user='x' pass=\\y");
    assert.equal(conf.get('port'), '6543');
    assert.equal(conf.has('include'), false);
  });

  test('round-trips any string value through a file line', () => {
    // Act + Assess
    fc.assert(
      fc.property(fc.string().filter((s) => !/[\0\n\r]/.test(s)), (value) => {
        const text = setConfEntries('', { primary_conninfo: value });
        assert.equal(parseConf(text).get('primary_conninfo'), value);
      }),
    );
  });

  test('replaces and removes only the named settings, case-insensitively', () => {
    // Prepare
    const text = "# header\nPrimary_Conninfo = 'old'\nwork_mem = '4MB'\nprimary_slot_name = 'a'\n";

    // Act
    const edited = setConfEntries(text, { primary_conninfo: 'new', primary_slot_name: null });
    const trimmed = removeConfEntries(edited, ['WORK_MEM']);

    // Assess
    assert.equal(edited, "# header\nwork_mem = '4MB'\nprimary_conninfo = 'new'\n");
    assert.equal(trimmed, "# header\nprimary_conninfo = 'new'\n");
  });

  test('keeps one managed block, at the end, replacing a copied one', () => {
    // Prepare
    const copied = `max_connections = 100\n\n${MANAGED_BEGIN}\nport = 1111\n${MANAGED_END}\nwork_mem = '1MB'\n`;

    // Act
    const once = replaceManagedBlock(copied, ['port = 2222']);
    const twice = replaceManagedBlock(once, ['port = 2222']);

    // Assess
    assert.equal(once, `max_connections = 100\nwork_mem = '1MB'\n\n${MANAGED_BEGIN}\nport = 2222\n${MANAGED_END}\n`);
    assert.equal(twice, once);
    assert.equal(parseConf(once).get('port'), '2222');
  });

  test('formats booleans, numbers and strings as postgresql.conf expects', () => {
    // Act + Assess
    assert.equal(formatConfValue(true), 'on');
    assert.equal(formatConfValue(false), 'off');
    assert.equal(formatConfValue(10), '10');
    assert.equal(formatConfValue("it's"), "'it''s'");
    assert.throws(() => formatConfValue('a\nb'));
    assert.throws(() => formatConfValue(Number.NaN));
  });
});

describe('quoting', () => {
  test('round-trips connection strings with spaces, quotes and backslashes', () => {
    // Act + Assess
    fc.assert(
      fc.property(fc.string().filter((s) => !s.includes('\0')), fc.string().filter((s) => !s.includes('\0')), (password, name) => {
        const text = buildConninfo({ host: '127.0.0.1', port: 5432, password, application_name: name, user: null });
        assert.deepEqual(parseConninfo(text), { host: '127.0.0.1', port: '5432', password, application_name: name });
      }),
    );
  });

  test('quotes SQL literals and identifiers so they cannot end early', () => {
    // Act + Assess
    assert.equal(quoteLiteral("a'b\\c"), "E'a''b\\\\c'");
    assert.equal(quoteIdent('Re"plicator'), '"Re""plicator"');
    assert.throws(() => quoteLiteral('a\0b'));
  });
});

describe('pg_controldata output', () => {
  test('reads identity, state, positions and timelines', () => {
    // Act
    const data = parseControlData(CONTROLDATA, '/d');

    // Assess
    assert.equal(data.systemId, '7710774842034071030');
    assert.equal(data.clusterState, 'shut down in recovery');
    assert.equal(data.checkpointTimeline, 2);
    assert.equal(data.checkpointLsn, 0x17414f8);
    assert.equal(data.redoLsn, 0x1741400);
    assert.equal(data.minRecoveryEndLsn, 0x3000060);
    assert.equal(data.timeline, 3);
    assert.equal(data.dataChecksumVersion, 1);
    assert.equal(data.walLogHints, false);
    assert.equal(isCleanShutdown(data.clusterState), true);
    assert.equal(isCleanShutdown('in production'), false);
  });

  test('names the missing line when the output is not what it expects', () => {
    // Act + Assess
    assert.throws(
      () => parseControlData(CONTROLDATA.replace(/^Database system identifier.*$/m, ''), '/d'),
      (error: unknown) => error instanceof ControlDataError && error.message.includes('Database system identifier'),
    );
  });

  test('reads the timeline from a WAL file name', () => {
    // Act + Assess
    assert.equal(timelineOfWalFile('0000000A0000000000000003'), 10);
    assert.throws(() => timelineOfWalFile('00000001'));
  });
});

describe('node settings', () => {
  test('puts replication settings and the node identity in the block, parameters overriding defaults', () => {
    // Prepare
    const c = config({ parameters: { max_wal_senders: 5, shared_buffers: '16MB' } });

    // Act
    const settings = Object.fromEntries(nodeSettings(c));
    const block = nodeSettingsBlock(c);

    // Assess
    assert.deepEqual(settings, {
      listen_addresses: '127.0.0.1',
      port: 5433,
      unix_socket_directories: '/s',
      cluster_name: 'n1',
      wal_level: 'replica',
      max_wal_senders: 5,
      max_replication_slots: 10,
      hot_standby: true,
      wal_log_hints: true,
      max_slot_wal_keep_size: '8GB',
      shared_buffers: '16MB',
    });
    assert.ok(block.includes('wal_log_hints = on'));
    assert.ok(block.includes("cluster_name = 'n1'"));
  });

  test('drops copied per-node and follow settings from postgresql.auto.conf', () => {
    // Prepare
    const keys = copiedAutoConfKeys(config());

    // Act + Assess
    for (const key of ['port', 'primary_conninfo', 'primary_slot_name', 'synchronous_standby_names', 'cluster_name']) {
      assert.ok(keys.includes(key), key);
    }
    assert.ok(!keys.includes('work_mem'));
  });

  test('allows TCP and replication connections from each configured range', () => {
    // Act
    const lines = hbaLines(config({ auth: { allowedCidrs: ['10.0.0.0/16'], hostAuthMethod: 'scram-sha-256' } }).auth);

    // Assess
    assert.ok(lines.some((l) => /^host\s+replication\s+all\s+10\.0\.0\.0\/16\s+scram-sha-256$/.test(l)));
    assert.ok(lines.some((l) => /^host\s+all\s+all\s+10\.0\.0\.0\/16\s+scram-sha-256$/.test(l)));
  });

  test('refuses unusable configurations, naming the field', () => {
    // Act + Assess
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'bad name' }, 'name'],
      [{ dataDir: 'relative' }, 'dataDir'],
      [{ socketDir: `/${'s'.repeat(100)}` }, 'socketDir'],
      [{ port: 70000 }, 'port'],
      [{ parameters: { port: 1 } }, 'parameters.port'],
      [{ parameters: { 'bad-name': 1 } }, 'parameters.bad-name'],
      [{ auth: { replicationUser: 'x;drop' } }, 'auth.replicationUser'],
      [{ auth: { allowedCidrs: ['everywhere'] } }, 'auth.allowedCidrs'],
      [{ timeouts: { startMs: 0 } }, 'timeouts.startMs'],
    ];
    for (const [overrides, field] of cases) {
      assert.throws(() => config(overrides), (e: unknown) => e instanceof InvalidConfigError && e.field === field, field);
    }
  });

  test('connects to loopback when listening on every address, and logs beside the data directory', () => {
    // Act
    const c = config({ listenAddresses: '*' });

    // Assess
    assert.equal(c.connectHost, '127.0.0.1');
    assert.equal(c.logFile, '/d/n1.log');
  });
});

describe('slot names', () => {
  test('derives a valid slot name from a member name', () => {
    // Act + Assess
    assert.equal(slotNameFor('Node-1.eu'), 'node_1_eu');
    assert.equal(slotNameFor('b'), 'b');
  });
});
