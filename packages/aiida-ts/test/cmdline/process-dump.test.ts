/** `verdi process dump` on processes the engine ran: the folder tree, the log, the options and the bad input. */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calcfunction, workfunction } from '../../src/engine.js';
import { Int, SinglefileData, WorkflowNode } from '../../src/orm.js';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const upper = calcfunction(
  { inputs: { source: SinglefileData }, outputs: SinglefileData, args: ['source'] },
  async function upper({ source }) {
    return SinglefileData.fromString((await source.getContent('utf8')).toUpperCase(), 'upper.txt');
  },
);
const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);
const inner = workfunction(
  { name: 'inner', inputs: { x: Int }, outputs: Int, args: ['x'] },
  async function inner({ x }) {
    return add(x, new Int(1));
  },
);
const outer = workfunction(
  { name: 'outer', inputs: { x: Int }, outputs: Int, args: ['x'] },
  async function outer({ x }) {
    return add(await inner(x), await inner(x));
  },
);

const { sandbox, made } = useEngineProfile('aiida-ts-process-dump-', async () => {
  const source = await SinglefileData.fromString('hello\n', 'hello.txt');
  const upperRun = await upper.runGetNode({ source });
  const outerRun = await outer.runGetNode({ x: new Int(1) });
  const unsealed = await new WorkflowNode().store();
  return { upper: upperRun.node.pk!, outer: outerRun.node.pk!, unsealed: unsealed.pk! };
});

const tree = (folder: string): string[] => {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) walk(join(dir, entry.name), rel);
      else out.push(rel);
    }
  };
  walk(folder, '');
  return out.sort();
};

describe('verdi process dump', () => {
  it('writes a work chain with its calcfunction and job as numbered folders, with README, metadata and log', async () => {
    const target = join(sandbox.base, 'wc');
    const result = await verdi(['process', 'dump', String(made().workchain), '--path', target]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Warning: This is a new feature which is still in its testing phase.');
    expect(result.stdout).toContain(`Report: Using specified output path: \`${target}\``);
    expect(result.stdout).toContain(
      `Report: Starting dump of process node (PK: ${made().workchain}) in incremental mode...`,
    );
    expect(result.stdout).toContain(
      `Success: Raw files for process \`${made().workchain}\` dumped into folder \`wc\`.`,
    );
    const multiply = `01-multiply-${made().multiply}`;
    const job = `02-ArithmeticAddCalculation-${made().add}`;
    expect(tree(target)).toEqual(
      [
        '.aiida_dump_safeguard',
        `${job}/.aiida_dump_safeguard`,
        `${job}/aiida_node_metadata.yaml`,
        `${job}/inputs/.aiida/calcinfo.json`,
        `${job}/inputs/.aiida/job_tmpl.json`,
        `${job}/inputs/_aiidasubmit.sh`,
        `${job}/inputs/aiida.in`,
        `${job}/outputs/_scheduler-stderr.txt`,
        `${job}/outputs/_scheduler-stdout.txt`,
        `${job}/outputs/aiida.out`,
        `${multiply}/.aiida_dump_safeguard`,
        `${multiply}/aiida_node_metadata.yaml`,
        // The source of a calcfunction is in its repository, as in aiida-core.
        `${multiply}/inputs/source_file`,
        'README.md',
        'aiida_dump_log.json',
        'aiida_node_metadata.yaml',
      ].sort(),
    );
    expect(readFileSync(join(target, job, 'outputs', 'aiida.out'), 'utf8')).toBe('10\n');
    const readme = readFileSync(join(target, 'README.md'), 'utf8');
    expect(readme).toContain(`# AiiDA Process Dump: MultiplyAddWorkChain <${made().workchain}>`);
    expect(readme).toContain(`## Process Status (\`verdi process status ${made().workchain}\`)`);
    expect(readme).toMatch(/ArithmeticAddCalculation<\d+> Finished \[0\]/);
    const metadata = readFileSync(join(target, job, 'aiida_node_metadata.yaml'), 'utf8');
    expect(metadata.startsWith('---\nNode data:\n')).toBe(true);
    expect(metadata).toContain(`  pk: ${made().add}\n`);
    expect(metadata).toContain('  is_finished_ok: true\n');
    expect(metadata).toContain('User data:\n');
    expect(metadata).toContain('Computer data:\n  label: localhost\n');
    expect(metadata).toContain('Node attributes:\n');
    expect(metadata).not.toContain('Node extras:');
    const log = JSON.parse(readFileSync(join(target, 'aiida_dump_log.json'), 'utf8')) as Record<
      string,
      Record<string, { path: string }>
    >;
    expect(Object.values(log['workflows'] ?? {}).map((record) => record.path)).toEqual(['.']);
    expect(
      Object.values(log['calculations'] ?? {})
        .map((record) => record.path)
        .sort(),
    ).toEqual([multiply, job]);
    expect(log).toHaveProperty('last_dump_time');
  });

  it('a second dump skips what did not change; --overwrite writes it anew; a foreign folder is refused', async () => {
    const target = join(sandbox.base, 'again');
    expect((await verdi(['process', 'dump', String(made().workchain), '--path', target])).code).toBe(0);
    const marker = join(target, `02-ArithmeticAddCalculation-${made().add}`, 'marker.txt');
    writeFileSync(marker, 'left by the user');
    expect((await verdi(['process', 'dump', String(made().workchain), '--path', target])).code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    const overwritten = await verdi(['process', 'dump', String(made().workchain), '--path', target, '-o']);
    expect(overwritten.code, overwritten.stderr).toBe(0);
    expect(overwritten.stdout).toContain('in overwrite mode');
    expect(existsSync(marker)).toBe(false);
    const foreign = join(sandbox.base, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'precious.txt'), 'keep me');
    const refused = await verdi([
      'process',
      'dump',
      String(made().workchain),
      '--path',
      foreign,
      '--overwrite',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('safeguard file missing');
    expect(readFileSync(join(foreign, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('nested workflows nest their folders; --flat and --include-outputs shape a calculation folder', async () => {
    const nested = join(sandbox.base, 'nested');
    expect((await verdi(['process', 'dump', String(made().extra.outer), '--path', nested])).code).toBe(0);
    const top = readdirSync(nested)
      .filter((name) => /^\d\d-/.test(name))
      .sort();
    expect(top.map((name) => name.replace(/-\d+$/, ''))).toEqual(['01-inner', '02-inner', '03-add']);
    expect(readdirSync(join(nested, top[0] ?? '')).some((name) => name.startsWith('01-add-'))).toBe(true);

    const files = join(sandbox.base, 'files');
    const full = await verdi([
      'process',
      'dump',
      String(made().extra.upper),
      '--path',
      files,
      '--include-outputs',
      '--include-extras',
    ]);
    expect(full.code, full.stderr).toBe(0);
    expect(readFileSync(join(files, 'node_inputs', 'source', 'hello.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(files, 'node_outputs', 'result', 'upper.txt'), 'utf8')).toBe('HELLO\n');
    const flat = join(sandbox.base, 'flat');
    expect(
      (
        await verdi([
          'process',
          'dump',
          String(made().extra.upper),
          '--path',
          flat,
          '--flat',
          '--exclude-inputs',
        ])
      ).code,
    ).toBe(0);
    expect(tree(flat).filter((name) => !name.startsWith('.'))).toEqual([
      'README.md',
      'aiida_dump_log.json',
      'aiida_node_metadata.yaml',
      'source_file',
    ]);
    const flatJob = join(sandbox.base, 'flat-job');
    expect((await verdi(['process', 'dump', String(made().add), '--path', flatJob, '-f'])).code).toBe(0);
    expect(existsSync(join(flatJob, 'aiida.in'))).toBe(true);
    expect(existsSync(join(flatJob, 'aiida.out'))).toBe(true);
    expect(existsSync(join(flatJob, 'inputs'))).toBe(false);
  });

  it('default folder in the working directory, --dry-run writes nothing, -n with -o does nothing', async () => {
    const dry = await verdi(['process', 'dump', String(made().add), '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `No output path specified. Using default: \`${join(process.cwd(), `ArithmeticAddCalculation-${made().add}`)}\``,
    );
    expect(dry.stdout).toContain('Success: Dry run completed.');
    expect(existsSync(join(process.cwd(), `ArithmeticAddCalculation-${made().add}`))).toBe(false);
    const both = await verdi(['process', 'dump', String(made().add), '-n', '-o']);
    expect(both.code).toBe(0);
    expect(both.stderr).toContain(
      'Both `dry_run` and `overwrite` set to true. Operation will NOT be performed.',
    );
  });

  it('refuses unsealed processes unless --dump-unsealed, unknown processes, data nodes and bad options', async () => {
    const target = join(sandbox.base, 'unsealed');
    const refused = await verdi(['process', 'dump', String(made().extra.unsealed), '--path', target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `Data validation error during dump: Process ${made().extra.unsealed} must be sealed before it can be dumped, or \`--dump-unsealed\` set to True.`,
    );
    const allowed = await verdi([
      'process',
      'dump',
      String(made().extra.unsealed),
      '--path',
      target,
      '--dump-unsealed',
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    // A bare workflow node has no report of its kind.
    expect(readFileSync(join(target, 'README.md'), 'utf8')).toContain('`)\n\n```\nN/A\n```\n');
    const unknown = await verdi(['process', 'dump', '987654']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for PROCESS: .*987654/);
    const data = await verdi(['process', 'dump', String(made().singlefile)]);
    expect(data.code).toBe(2);
    expect(data.stderr).toContain('not a process');
    const option = await verdi(['process', 'dump', String(made().add), '--bogus']);
    expect(option.code).toBe(2);
    expect(lstatSync(sandbox.base).isDirectory()).toBe(true);
  });
});
