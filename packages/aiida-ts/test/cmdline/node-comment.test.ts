/** `verdi node comment add|show|update|remove` on a profile the engine filled. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const { sandbox, made } = useEngineProfile('aiida-ts-node-comment-');

/** The id printed by `comment show` for the comment with `content`. */
function commentIdOf(shown: string, content: string): number {
  const blocks = shown.split(/(?=^Comment<)/m);
  const block = blocks.find((text) => text.includes(`\n${content}\n`));
  const match = /^Comment<(\d+)>/.exec(block ?? '');
  if (match === null) throw new Error(`no comment "${content}" in:\n${shown}`);
  return Number(match[1]);
}

describe('verdi node comment', () => {
  it('add to several nodes, show them with author and times, filtered by user', async () => {
    const added = await verdi([
      'node',
      'comment',
      'add',
      'converged nicely',
      '-N',
      String(made().workchain),
      String(made().add),
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('Success: comment added to 2 nodes');
    const shown = await verdi(['node', 'comment', 'show', String(made().workchain)]);
    expect(shown.code, shown.stderr).toBe(0);
    const heading = `* Comments for Node<${made().workchain}>`;
    expect(shown.stdout.startsWith(`${'*'.repeat(heading.length)}\n${heading}\n`)).toBe(true);
    expect(shown.stdout).toMatch(
      new RegExp(
        `^Comment<\\d+> for Node<${made().workchain}> by aiida@localhost\\nCreated on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\nLast modified on .+\\n\\nconverged nicely\\n`,
        'm',
      ),
    );
    const mine = await verdi(['node', 'comment', 'show', '-u', 'aiida@localhost', String(made().add)]);
    expect(mine.stdout).toContain('converged nicely');
    const none = await verdi(['node', 'comment', 'show', String(made().folder)]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('Report: no comments found');
  });

  it('update replaces the text; remove deletes it after confirmation or with -f', async () => {
    await verdi(['node', 'comment', 'add', 'first draft', '-N', String(made().multiply)]);
    const id = commentIdOf(
      (await verdi(['node', 'comment', 'show', String(made().multiply)])).stdout,
      'first draft',
    );
    const updated = await verdi(['node', 'comment', 'update', String(id), 'final text']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain(`Success: comment<${id}> updated`);
    expect((await verdi(['node', 'comment', 'show', String(made().multiply)])).stdout).toContain(
      '\nfinal text\n',
    );
    const declined = await verdi(['node', 'comment', 'remove', String(id)], {}, 'n\n');
    expect(declined.code).toBe(1);
    expect((await verdi(['node', 'comment', 'show', String(made().multiply)])).stdout).toContain(
      'final text',
    );
    const removed = await verdi(['node', 'comment', 'remove', String(id)], {}, 'y\n');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`Success: removed comment<${id}>`);
    expect((await verdi(['node', 'comment', 'show', String(made().multiply)])).stdout).toContain(
      'no comments found',
    );
  });

  it('without CONTENT, add and update take the text written in $EDITOR', async () => {
    const editor = join(sandbox.base, 'editor.sh');
    // An editor that keeps the instruction lines and puts a new first line: what a person would do.
    writeFileSync(editor, '#!/bin/sh\nprintf "written in the editor\\n$(cat "$1")\\n" > "$1"\n');
    chmodSync(editor, 0o755);
    // The in-process verdi reads the editor from this process's environment.
    const saved = { EDITOR: process.env['EDITOR'], VISUAL: process.env['VISUAL'] };
    process.env['EDITOR'] = editor;
    delete process.env['VISUAL'];
    onTestFinished(() => {
      for (const [key, value] of Object.entries(saved))
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    });
    const added = await verdi(['node', 'comment', 'add', '-N', String(made().folder)]);
    expect(added.code, added.stderr).toBe(0);
    const shown = (await verdi(['node', 'comment', 'show', String(made().folder)])).stdout;
    expect(shown).toContain('\nwritten in the editor\n');
    expect(shown).not.toContain('#=');
    const id = commentIdOf(shown, 'written in the editor');
    const updated = await verdi(['node', 'comment', 'update', String(id)]);
    expect(updated.code, updated.stderr).toBe(0);
    expect((await verdi(['node', 'comment', 'show', String(made().folder)])).stdout).toContain(
      '\nwritten in the editor\nwritten in the editor\n',
    );
  });

  it('names unknown nodes and users (exit 2), unknown comments (exit 1) and bad ids and options (exit 2)', async () => {
    const node = await verdi(['node', 'comment', 'add', 'x', '-N', '987654']);
    expect(node.code).toBe(2);
    expect(node.stderr).toMatch(/invalid value for -N\/--nodes: .*987654/);
    const noNodes = await verdi(['node', 'comment', 'add', 'x']);
    expect(noNodes.code).toBe(2);
    expect(noNodes.stderr).toContain("required option '-N, --nodes <nodes...>' not specified");
    const user = await verdi(['node', 'comment', 'show', '-u', 'nobody@nowhere', String(made().add)]);
    expect(user.code).toBe(2);
    expect(user.stderr).toMatch(/invalid value for -u\/--user: .*nobody@nowhere/);
    const showUnknown = await verdi(['node', 'comment', 'show', 'no-such-node']);
    expect(showUnknown.code).toBe(2);
    expect(showUnknown.stderr).toMatch(/invalid value for NODES: .*no-such-node/);
    const update = await verdi(['node', 'comment', 'update', '987654', 'x']);
    expect(update.code).toBe(1);
    expect(update.stderr).toContain('comment<987654> not found');
    const remove = await verdi(['node', 'comment', 'remove', '-f', '987654']);
    expect(remove.code).toBe(1);
    expect(remove.stderr).toContain('failed to remove comment<987654>');
    const notInt = await verdi(['node', 'comment', 'update', 'abc', 'x']);
    expect(notInt.code).toBe(2);
    expect(notInt.stderr).toContain("invalid value for COMMENT_ID: 'abc' is not a valid integer.");
    const option = await verdi(['node', 'comment', 'show', '--bogus', String(made().add)]);
    expect(option.code).toBe(2);
  });
});
