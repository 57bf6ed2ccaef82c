import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { DumpNames } from './paths.js';

/**
 * Writes `README.md` at the top of a process dump: what the folders hold, and the process's status tree, report
 * and node summary as `verdi process status|report` and `verdi node show` print them.
 */
export async function writeProcessReadme(process: ProcessNode, folder: string): Promise<void> {
  // The same texts the commands print: one implementation, loaded only when a dump is written.
  const { buildCallTree, formatCallTree } = await import('../process-info/call-graph.js');
  const { processReport } = await import('../process-info/reports.js');
  const { formatNodeInfo } = await import('../process-info/node-info.js');
  const pk = String(process.pk);
  const lines = [
    `# AiiDA Process Dump: ${process.processLabel ?? process.processType ?? ''} <${pk}>`,
    '',
    `This directory contains files related to the AiiDA process node ${pk}.`,
    `- **UUID:** ${process.uuid}`,
    `- **Type:** ${process.nodeType}`,
    '',
    'Sub-directories (if present) represent called calculations or workflows, ordered by creation time.',
    'File/directory structure within a calculation node:',
    '- `inputs/`: Contains scheduler submission script (`_aiidasubmit.sh`), stdin file (`aiida.in`), and internal',
    'AiiDA info (`.aiida/`).',
    '- `outputs/`: Contains files retrieved by the parser (e.g., `aiida.out`, `_scheduler-stdout.txt`,',
    '`_scheduler-stderr.txt`).',
    '- `node_inputs/`: Contains repositories of input data nodes linked via `INPUT_CALC`.',
    '- `node_outputs/`: Contains repositories of output data nodes linked via `CREATE` (excluding `retrieved`).',
    '- `aiida_node_metadata.yaml`: Human-readable metadata, attributes, and extras of this node.',
    '',
  ];
  const tree = formatCallTree(await buildCallTree(process));
  const { document, text: reportText } = await processReport(process, { levelname: 'REPORT', indentSize: 2 });
  // aiida-core writes N/A for processes with no report of their kind (a bare workflow or calculation node).
  const report = document['kind'] === 'other' ? 'N/A' : reportText;
  const info = await formatNodeInfo(process);
  const text =
    `${lines.join('\n')}\n## Process Status (\`verdi process status ${pk}\`)\n\n\`\`\`\n${tree}\n\`\`\`\n` +
    `\n## Process Report (\`verdi process report ${pk}\`)\n\n\`\`\`\n${report}\n\`\`\`\n` +
    `\n## Node Info (\`verdi node show ${process.uuid}\`)\n\n\`\`\`\n${info}\n\`\`\`\n`;
  await writeFile(join(folder, DumpNames.README), text, 'utf8');
}
