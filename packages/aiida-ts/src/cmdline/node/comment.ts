import { Command } from 'commander';
import { isAiidaError } from '../../errors.js';
import type { Comment } from '../../orm/entities/comment.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';
import { editComment } from './editor.js';
import { loadNodeArguments } from './load-node.js';

/** A comment id as click's `int` type reads it; anything else is a usage error naming the argument. */
function commentId(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim()))
    throw new UsageError(`invalid value for COMMENT_ID: '${value}' is not a valid integer.`);
  return Number(value);
}

const pad = (value: number): string => String(value).padStart(2, '0');

/** `YYYY-MM-DD HH:MM` in local time, as aiida-core prints comment times. */
function minuteTime(time: Date): string {
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

async function loadComment(cli: Cli, id: number): Promise<Comment | undefined> {
  const storage = await cli.storage();
  const { Comment: CommentClass } = await import('../../orm/entities/comment.js');
  try {
    return await CommentClass.get(id, { storage });
  } catch (error) {
    if (isAiidaError(error) && error.name === 'NotExistentError') return undefined;
    throw error;
  }
}

async function commentAdd(cli: Cli, content: string | undefined, identifiers: string[]): Promise<void> {
  const nodes = await loadNodeArguments(cli, identifiers, '-N/--nodes');
  const text = content ?? editComment('');
  if (text === '') return cli.out.critical('the comment is empty: nothing added');
  for (const node of nodes) await node.base.comments.add(text);
  cli.out.success(`comment added to ${nodes.length} nodes`);
}

async function commentUpdate(cli: Cli, id: number, content: string | undefined): Promise<void> {
  const comment = await loadComment(cli, id);
  if (comment === undefined) return cli.out.critical(`comment<${id}> not found`);
  await comment.setContent(content ?? editComment(comment.content));
  cli.out.success(`comment<${id}> updated`);
}

async function commentShow(cli: Cli, identifiers: string[], email: string | undefined): Promise<void> {
  const storage = await cli.storage();
  const { User } = await import('../../orm/entities/user.js');
  const user =
    email === undefined ? undefined : await resolveArgument('-u/--user', () => User.get(email, { storage }));
  const nodes = await loadNodeArguments(cli, identifiers);
  for (const node of nodes) {
    const heading = `* Comments for Node<${String(node.pk)}>`;
    cli.out.echo('*'.repeat(heading.length));
    cli.out.echo(heading);
    cli.out.echo('*'.repeat(heading.length));
    const all = await node.base.comments.all();
    const authors = new Map<Comment, string>();
    for (const comment of all) authors.set(comment, (await comment.getUser()).email);
    let shown = all;
    if (user !== undefined) {
      shown = all.filter((comment) => authors.get(comment) === user.email);
      if (shown.length === 0 && all.length > 0) {
        cli.out.warning(`no comments found for user ${user.email}`);
        cli.out.report(
          `valid users found for Node<${String(node.pk)}>: ${[...new Set(authors.values())].join(', ')}`,
        );
      }
    }
    for (const comment of shown) {
      cli.out.echo(
        [
          `Comment<${String(comment.pk)}> for Node<${String(node.pk)}> by ${authors.get(comment) ?? ''}`,
          `Created on ${minuteTime(comment.ctime)}`,
          `Last modified on ${minuteTime(comment.mtime ?? comment.ctime)}`,
          `\n${comment.content}\n`,
        ].join('\n'),
      );
    }
    if (shown.length === 0) cli.out.report('no comments found');
  }
}

async function commentRemove(cli: Cli, id: number, force: boolean): Promise<void> {
  if (!force && !(await cli.prompt.confirm(`Are you sure you want to remove comment<${id}>`)))
    cli.out.critical('Aborted!');
  const storage = await cli.storage();
  const { Comment: CommentClass } = await import('../../orm/entities/comment.js');
  try {
    await CommentClass.delete(id, { storage });
  } catch (error) {
    if (isAiidaError(error) && error.name === 'NotExistentError')
      return cli.out.critical(`failed to remove comment<${id}>: ${error.message}`);
    throw error;
  }
  cli.out.success(`removed comment<${id}>`);
}

/** `verdi node comment add|show|update|remove`. */
export function nodeCommentCommand(cli: Cli): Command {
  const comment = new Command('comment').description('Inspect, create and manage node comments.');
  comment
    .command('add')
    .description('Add a comment to one or more nodes (without CONTENT, the comment is written in $EDITOR).')
    .argument('[content]', 'The text of the comment.')
    .requiredOption('-N, --nodes <nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
    .action((content: string | undefined, opts: { nodes: string[] }) => commentAdd(cli, content, opts.nodes));
  comment
    .command('update')
    .description('Update a comment of a node (without CONTENT, it is edited in $EDITOR).')
    .argument('<comment_id>', 'The pk of the comment.', commentId)
    .argument('[content]', 'The new text of the comment.')
    .action((id: number, content: string | undefined) => commentUpdate(cli, id, content));
  comment
    .command('show')
    .description('Show the comments of one or multiple nodes.')
    .option('-u, --user <email>', 'Only the comments of the user with this email.')
    .argument('<nodes...>', 'Pks, uuids (or prefixes) or labels of the nodes.')
    .action((identifiers: string[], opts: { user?: string }) => commentShow(cli, identifiers, opts.user));
  comment
    .command('remove')
    .description('Remove a comment of a node.')
    .option('-f, --force', 'Do not ask for confirmation.')
    .argument('<comment_id>', 'The pk of the comment.', commentId)
    .action((id: number, opts: { force?: boolean }) => commentRemove(cli, id, opts.force === true));
  return comment;
}
