import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { DumpNames } from './paths.js';

/** A timestamp as PyYAML writes an aware `datetime` (`2024-01-02 03:04:05.123456+00:00`). */
function yamlTime(iso: string | null): string | null {
  return iso === null ? null : iso.replace('T', ' ');
}

/**
 * Writes `aiida_node_metadata.yaml` into `folder`: the node's properties, its user, its computer, and (as asked)
 * its attributes and extras, in aiida-core's sections and order.
 */
export async function writeNodeMetadata(
  node: ProcessNode,
  folder: string,
  options: { readonly includeAttributes: boolean; readonly includeExtras: boolean },
): Promise<void> {
  const document: Record<string, unknown> = {
    'Node data': {
      label: node.label,
      description: node.description,
      pk: node.pk,
      uuid: node.uuid,
      ctime: yamlTime(node.ctimeIso),
      mtime: yamlTime(node.mtimeIso),
      node_type: node.nodeType,
      process_type: node.processType,
      is_finished_ok: node.isFinishedOk,
    },
  };
  const user = await node.getUser();
  document['User data'] = {
    first_name: user.firstName,
    last_name: user.lastName,
    email: user.email,
    institution: user.institution,
  };
  const computer = await node.getComputer();
  if (computer !== null) {
    document['Computer data'] = {
      label: computer.label,
      hostname: computer.hostname,
      scheduler_type: computer.schedulerType,
      transport_type: computer.transportType,
    };
  }
  const attributes = node.base.attributes.all();
  if (options.includeAttributes && Object.keys(attributes).length > 0)
    document['Node attributes'] = attributes;
  const extras = node.base.extras.all();
  if (options.includeExtras && Object.keys(extras).length > 0) document['Node extras'] = extras;
  const text = stringify(document, { indent: 2, indentSeq: false, lineWidth: 100, sortMapEntries: false });
  await writeFile(join(folder, DumpNames.NODE_METADATA), `---\n${text}`, 'utf8');
}
