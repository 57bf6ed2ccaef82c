/** `verdi data core.structure show|export|import` (XYZ, XSF, CIF) on a profile the engine filled. */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadProfile, unloadProfile } from '../../src/config.js';
import { Group, loadNode, StructureData } from '../../src/orm.js';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const A = 5.43;

const { sandbox, made } = useEngineProfile('aiida-ts-data-structure-', async () => {
  const silicon = new StructureData({
    cell: [
      [0, A / 2, A / 2],
      [A / 2, 0, A / 2],
      [A / 2, A / 2, 0],
    ],
  });
  silicon.appendAtom({ symbols: 'Si', position: [0, 0, 0] });
  silicon.appendAtom({ symbols: 'Si', position: [A / 4, A / 4, A / 4] });
  silicon.label = 'silicon';
  await silicon.store();
  const water = new StructureData({ pbc: [false, false, false] });
  water.appendAtom({ symbols: 'O', position: [0, 0, 0.119] });
  water.appendAtom({ symbols: 'H', position: [0, 0.763, -0.477] });
  water.appendAtom({ symbols: 'H', position: [0, -0.763, -0.477] });
  await water.store();
  await new Group({ label: 'imported' }).store();
  return { silicon: silicon.pk!, water: water.pk! };
});

/** Loads a structure in this process (the profile the CLI used) and gives what a test compares. */
async function structureOf(id: number) {
  await loadProfile();
  try {
    const node = await loadNode(id);
    if (!(node instanceof StructureData)) throw new Error(`node ${id} is no structure`);
    const group = await Group.get({ label: 'imported' });
    const members = (await group.nodes()).map((member) => member.pk);
    return {
      formula: node.getFormula(),
      cell: node.cell,
      pbc: node.pbc,
      sites: node.sites,
      label: node.label,
      inGroup: members.includes(id),
    };
  } finally {
    await unloadProfile();
  }
}

const pkOf = (stdout: string): number => Number(/\(PK = (\d+)\)/.exec(stdout)?.[1] ?? '0');

describe('verdi data core.structure export', () => {
  it('prints XYZ (default) and XSF as aiida-core writes them', async () => {
    const xyz = await verdi(['data', 'core.structure', 'export', String(made().extra.silicon)]);
    expect(xyz.code, xyz.stderr).toBe(0);
    expect(xyz.stdout).toBe(
      '2\nLattice="0.0 2.715 2.715 2.715 0.0 2.715 2.715 2.715 0.0" pbc="True True True"\n' +
        'Si           0.0000000000       0.0000000000       0.0000000000\n' +
        'Si           1.3575000000       1.3575000000       1.3575000000\n',
    );
    const xsf = await verdi(['data', 'core.structure', 'export', '-F', 'xsf', String(made().extra.silicon)]);
    expect(xsf.stdout).toMatch(/^CRYSTAL\nPRIMVEC 1\n {6}0\.0000000000 {7}2\.7150000000 {7}2\.7150000000\n/);
    expect(xsf.stdout).toContain(
      'PRIMCOORD 1\n2 1\n14       0.0000000000       0.0000000000       0.0000000000\n14       1.3575',
    );
  });

  it('writes a file with -o, refuses to overwrite it without -f', async () => {
    const file = join(sandbox.base, 'si.cif');
    const written = await verdi([
      'data',
      'core.structure',
      'export',
      '-F',
      'cif',
      '-o',
      file,
      String(made().extra.silicon),
    ]);
    expect(written.code, written.stderr).toBe(0);
    const cif = readFileSync(file, 'utf8');
    expect(cif).toContain("_symmetry_space_group_name_H-M 'P 1'");
    expect(cif).toMatch(/_cell_length_a 3\.839589\d+/);
    expect(cif).toMatch(/_cell_angle_alpha 60\.0000000/);
    const again = await verdi([
      'data',
      'core.structure',
      'export',
      '-F',
      'cif',
      '-o',
      file,
      String(made().extra.silicon),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `OSError while exporting file:\nThe file ${file} already exists, stopping.`,
    );
    const forced = await verdi([
      'data',
      'core.structure',
      'export',
      '-F',
      'cif',
      '-o',
      file,
      '-f',
      String(made().extra.silicon),
    ]);
    expect(forced.code).toBe(0);
  });

  it('refuses unknown nodes, other node types and unknown formats (exit 2)', async () => {
    const unknown = await verdi(['data', 'core.structure', 'export', '987654']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for DATUM: .*987654/);
    const wrong = await verdi(['data', 'core.structure', 'export', String(made().singlefile)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('not a core.structure node');
    const format = await verdi([
      'data',
      'core.structure',
      'export',
      '-F',
      'pdb',
      String(made().extra.silicon),
    ]);
    expect(format.code).toBe(2);
  });
});

describe('verdi data core.structure import', () => {
  it('aiida-xyz: reads the last frame, moves it into a vacuum box, labels and groups it; --dry-run stores nothing', async () => {
    const file = join(sandbox.base, 'water.xyz');
    const exported = await verdi(['data', 'core.structure', 'export', String(made().extra.water)]);
    writeFileSync(file, exported.stdout);
    const dry = await verdi(['data', 'core.structure', 'import', 'aiida-xyz', file, '-n']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe('  Successfully imported structure H2O (not storing it, dry-run requested)\n');
    const imported = await verdi([
      'data',
      'core.structure',
      'import',
      'aiida-xyz',
      file,
      '--vacuum-addition',
      '5',
      '--pbc',
      '1',
      '0',
      '0',
      '--label',
      'water',
      '-G',
      'imported',
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    const stored = await structureOf(pkOf(imported.stdout));
    expect(stored.formula).toBe('H2O');
    expect(stored.label).toBe('water');
    expect(stored.inGroup).toBe(true);
    expect(stored.pbc).toEqual([true, false, false]);
    expect(stored.cell[0][0]).toBeCloseTo(5);
    expect(stored.cell[1][1]).toBeCloseTo(6.526);
    expect(stored.cell[2][2]).toBeCloseTo(5.596);
    expect(stored.sites[0]?.position).toEqual([0, 0.763, 0.596]);
  });

  it('cif: round trip of the exported silicon, and symmetry operations applied', async () => {
    const file = join(sandbox.base, 'si-roundtrip.cif');
    await verdi(['data', 'core.structure', 'export', '-F', 'cif', '-o', file, String(made().extra.silicon)]);
    const imported = await verdi(['data', 'core.structure', 'import', 'cif', file]);
    expect(imported.code, imported.stderr).toBe(0);
    const stored = await structureOf(pkOf(imported.stdout));
    expect(stored.formula).toBe('Si2');
    const length = (v: readonly number[]) => Math.hypot(...v);
    for (const vector of stored.cell) expect(length(vector)).toBeCloseTo(A / Math.SQRT2, 6);
    const [first, second] = stored.sites;
    expect(length((second?.position ?? [0, 0, 0]).map((x, k) => x - (first?.position[k] ?? 0)))).toBeCloseTo(
      (A * Math.sqrt(3)) / 4,
      6,
    );
    // Body-centred CsCl written with its centring operation: two sites from one.
    const bcc = join(sandbox.base, 'cscl.cif');
    writeFileSync(
      bcc,
      [
        'data_test',
        '_cell_length_a 4.12(1)',
        '_cell_length_b 4.12',
        '_cell_length_c 4.12',
        '_cell_angle_alpha 90',
        '_cell_angle_beta 90',
        '_cell_angle_gamma 90',
        'loop_',
        '_space_group_symop_operation_xyz',
        "'x, y, z'",
        "'x+1/2, y+1/2, z+1/2'",
        'loop_',
        '_atom_site_label',
        '_atom_site_fract_x',
        '_atom_site_fract_y',
        '_atom_site_fract_z',
        'Fe1 0 0 0',
        '',
      ].join('\n'),
    );
    const centred = await verdi(['data', 'core.structure', 'import', 'cif', bcc]);
    expect(centred.code, centred.stderr).toBe(0);
    expect(centred.stdout).toContain('Successfully imported structure Fe2');
    const iron = await structureOf(pkOf(centred.stdout));
    expect(iron.sites[1]?.position[0]).toBeCloseTo(2.06);
  });

  it('refuses missing files, bad XYZ and CIF (exit 1), bad --pbc and unknown groups (exit 2)', async () => {
    const missing = await verdi([
      'data',
      'core.structure',
      'import',
      'aiida-xyz',
      join(sandbox.base, 'nope.xyz'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does not exist');
    const badXyz = join(sandbox.base, 'bad.xyz');
    writeFileSync(badXyz, '3\ncomment\nO 0 0 0\n');
    const bad = await verdi(['data', 'core.structure', 'import', 'aiida-xyz', badXyz]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('line 4: expected `symbol x y z` (3 atoms declared)');
    const badCif = join(sandbox.base, 'bad.cif');
    writeFileSync(badCif, 'not a cif at all\n');
    const notCif = await verdi(['data', 'core.structure', 'import', 'cif', badCif]);
    expect(notCif.code).toBe(1);
    expect(notCif.stderr).toContain('no data block');
    const file = join(sandbox.base, 'water.xyz');
    const pbc = await verdi(['data', 'core.structure', 'import', 'aiida-xyz', file, '--pbc', '2', '0', '0']);
    expect(pbc.code).toBe(2);
    expect(pbc.stderr).toContain('values for pbc must be either 0 or 1');
    const group = await verdi(['data', 'core.structure', 'import', 'aiida-xyz', file, '-G', 'no-such-group']);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/invalid value for -G\/--group: .*no-such-group/);
  });
});

describe('verdi data core.structure show', () => {
  it('starts the viewer on a file of its format; a missing viewer is named', async () => {
    const bin = join(sandbox.base, 'bin');
    const seen = join(sandbox.base, 'seen.cif');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'jmol'), `#!/bin/sh\ncp "$1" '${seen}'\n`);
    chmodSync(join(bin, 'jmol'), 0o755);
    const savedPath = process.env['PATH'];
    onTestFinished(() => {
      process.env['PATH'] = savedPath;
    });
    process.env['PATH'] = `${bin}:${savedPath ?? ''}`;
    const shown = await verdi(['data', 'core.structure', 'show', '-F', 'jmol', String(made().extra.silicon)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(existsSync(seen)).toBe(true);
    expect(readFileSync(seen, 'utf8')).toContain('_atom_site_fract_x');
    process.env['PATH'] = bin;
    const missing = await verdi([
      'data',
      'core.structure',
      'show',
      '-F',
      'vmd',
      String(made().extra.silicon),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      "No executable 'vmd' found. Add to the path, or try with an absolute path.",
    );
    const format = await verdi([
      'data',
      'core.structure',
      'show',
      '-F',
      'povray',
      String(made().extra.silicon),
    ]);
    expect(format.code).toBe(2);
  });
});
