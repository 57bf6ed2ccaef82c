/**
 * A calculation job: run the code `bash` on the computer `localhost` to add two numbers, with
 * `verdi run examples/calcjob-add.ts [x] [y]` on a profile made by `verdi presto` (which sets up `localhost`).
 *
 * The job goes through aiida's steps: its input file and submit script are uploaded into a work directory on the
 * computer, the script is submitted to the computer's scheduler (`core.direct`: a background process), the scheduler is
 * polled until the job is done, the output file is retrieved, and the `core.arithmetic.add` parser turns it into the
 * `sum` output. Look at it with `verdi process show <pk>`, `verdi calcjob inputcat <pk>`, `verdi calcjob outputcat
 * <pk>` and `verdi calcjob gotocomputer <pk>`.
 *
 * The last line printed is the pk of the job.
 */
import { ArithmeticAddCalculation, runGetNode } from 'aiida-ts/engine';
import { NotExistentError } from 'aiida-ts';
import { Computer, InstalledCode, Int, loadCode } from 'aiida-ts/orm';

const [x = 2, y = 3] = process.argv.slice(2).map(Number);

/** The code `bash@localhost`, set up the first time. */
async function bashOnLocalhost(): Promise<InstalledCode> {
  try {
    return await loadCode<InstalledCode>('bash@localhost');
  } catch (error) {
    if (!(error instanceof NotExistentError)) throw error;
  }
  const computer = await Computer.get({ label: 'localhost' });
  return new InstalledCode(
    { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
    { label: 'bash' },
  ).store();
}

const code = await bashOnLocalhost();
const { result, node } = await runGetNode(ArithmeticAddCalculation, { x: new Int(x), y: new Int(y), code });
console.log(`${x} + ${y} = ${result.sum.value} (exit status ${node.exitStatus})`);
console.log(node.pk);
