import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliExit, ExitCode } from '../exit-codes.js';

/** Lines of the edited text that start with this are instructions, dropped from the result (as aiida-core). */
const INSTRUCTION_PREFIX = '#=';

/**
 * Opens `$VISUAL` (else `$EDITOR`, else `vi`) on `initial` plus instruction lines, and gives back what the user
 * saved without the instruction lines and surrounding blank lines: `''` when they saved nothing. The editor runs on
 * the terminal of `verdi`; a failing editor ends the command (exit 1).
 */
export function editComment(initial: string, env: NodeJS.ProcessEnv = process.env): string {
  const editor = env['VISUAL'] ?? env['EDITOR'] ?? 'vi';
  const folder = mkdtempSync(join(tmpdir(), 'verdi-comment-'));
  const file = join(folder, 'comment.txt');
  try {
    writeFileSync(
      file,
      `${initial}\n${INSTRUCTION_PREFIX} Write the comment above.\n` +
        `${INSTRUCTION_PREFIX} Lines starting with '${INSTRUCTION_PREFIX}' are ignored; an empty comment aborts.\n`,
    );
    // Through the shell, so that `EDITOR="code --wait"` works as it does for git; the file name is quoted (it is a
    // temporary path of ours, without quotes in it).
    const result = spawnSync(`${editor} '${file}'`, { shell: true, stdio: 'inherit', env });
    if (result.error !== undefined || result.status !== 0) {
      const reason = result.error?.message ?? `exit code ${String(result.status)}`;
      throw new CliExit(ExitCode.CRITICAL, `the editor \`${editor}\` failed: ${reason}`);
    }
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith(INSTRUCTION_PREFIX))
      .join('\n')
      .replace(/^\n+|\n+$/g, '');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
