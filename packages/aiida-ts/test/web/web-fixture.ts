import { ArithmeticAddCalculation, runGetNode } from 'aiida-ts/engine';
import { getStorage } from '../../src/storage/context.js';
import { setupComputer } from '../calcjobs/helpers.js';
import { ArrayData, FolderData, Group, Int, SinglefileData, type Node } from 'aiida-ts/orm';
import { OuterWorkChain } from '../engine/fixture-workchains.js';

/** A 1×1 PNG (a red pixel), for the image viewer and the content type of a download. */
export const PNG_PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/** What {@link fillProfile} made, by name. */
export interface FilledProfile {
  readonly outer: Node;
  readonly inner: Node[];
  readonly x: Node;
  readonly notes: Node;
  readonly folder: Node;
  readonly array: Node;
  readonly group: Group;
  readonly computer: { readonly label: string; readonly uuid: string };
  /** A finished `core.arithmetic.add` CalcJob run on localhost. */
  readonly calcjob: Node;
  /** Removes the CalcJob's working folder. */
  cleanup(): Promise<void>;
}

/** Fills the current storage through the engine: a work chain that calls others, files, arrays, a group, a computer. */
export async function fillProfile(): Promise<FilledProfile> {
  const x = await new Int(1).store();
  const { node: outer } = await runGetNode(OuterWorkChain, {
    inner: { x, y: new Int(2) },
    iterations: new Int(2),
  });
  const called = await (outer as unknown as { getCalled(): Promise<Node[]> }).getCalled();
  const notes = await SinglefileData.fromString('line 1\nline 2 — ünïcode\n', 'notes.txt');
  await notes.store();
  await notes.base.extras.set('project', 'web');
  await notes.base.comments.add('checked by hand');
  const folder = new FolderData();
  await folder.base.repository.putObjectFromBuffer('pixel.png', PNG_PIXEL);
  await folder.base.repository.putObjectFromBuffer('sub/readme.md', '# hello\n');
  await folder.store();
  const array = await new ArrayData({
    matrix: [
      [1, 2],
      [3, 4],
    ],
  }).store();
  const group = await new Group({ label: 'web-group', description: 'for the web tests' }).store();
  await group.addNodes([notes, folder, outer]);
  const fixture = await setupComputer(getStorage());
  const { node: calcjob } = await runGetNode(ArithmeticAddCalculation, { x: 1, y: 2, code: fixture.code });
  return {
    outer,
    inner: called,
    x,
    notes,
    folder,
    array,
    group,
    computer: fixture.computer,
    calcjob,
    cleanup: fixture.cleanup,
  };
}
