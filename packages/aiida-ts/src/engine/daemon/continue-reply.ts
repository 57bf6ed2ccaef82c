import { ContinuedProcessFailedError } from '../../errors.js';
import { LinkType } from '../../orm/links.js';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { dumpYaml } from '../wire/pyyaml-emitter.js';
import { resolveAiidaEntity } from '../wire/aiida-codec.js';
import { labelToPath } from '../processes/engine-hooks.js';

/**
 * The answers of a daemon worker to a `continue` task, as aiida-core's `ProcessLauncher._continue` gives them (the
 * recorded replies 07–21 of the aiida-wire fixtures): aiida-core serializes the result of a process it continued
 * once more (`aiida.orm.utils.serialize.serialize`) before kiwipy encodes the reply, so the `result` is itself a
 * YAML document; a process that had already terminated answers without that second layer; a failure answers
 * `exception: <message>`.
 */

/** `nowait`: the pk, as its own YAML document (`'14\n...\n'`). */
export function continuedPkAnswer(pk: number): string {
  return dumpYaml(pk);
}

/** The `{label: node}` outputs of a process node (CREATE and RETURN links), labels as given. */
async function outputLinks(
  node: ProcessNode,
  label: (link: string) => string,
): Promise<Record<string, unknown>> {
  const links = await node.base.links.getOutgoing({ linkType: [LinkType.CREATE, LinkType.RETURN] });
  const outputs: Record<string, unknown> = {};
  for (const link of links.all()) outputs[label(link.linkLabel)] = link.node;
  return outputs;
}

/**
 * The message of an exception as Python's `str(exception)` gives it, from the text recorded on the node (aiida-ts
 * records `Name: message` and the stack frames; aiida-core sends the message alone).
 */
export function exceptionMessageOf(recorded: string): string {
  const lines = recorded.split('\n');
  const frame = lines.findIndex((line) => /^\s+at /.test(line));
  const head = (frame < 0 ? lines : lines.slice(0, frame)).join('\n');
  return head.replace(/^[A-Za-z_$][\w$]*(?:Error|Exception)?: /, '');
}

function failure(node: ProcessNode): ContinuedProcessFailedError {
  if (node.processState === 'excepted')
    return new ContinuedProcessFailedError(exceptionMessageOf(node.exception ?? ''));
  // plumpy's KilledError carries the kill message (aiida-core's is empty when the process was killed earlier).
  return new ContinuedProcessFailedError(node.processStatus ?? '');
}

/**
 * A process found already terminated when the task arrived: its outputs as a plain mapping (link labels) when it
 * finished; otherwise rejects with its exception message (excepted) or kill message (killed).
 */
export async function terminatedAnswer(node: ProcessNode): Promise<Record<string, unknown>> {
  if (node.processState !== 'finished') throw failure(node);
  return outputLinks(node, (label) => label);
}

/**
 * A process continued to its end: its outputs (`{port path: node}`) serialized once more as a YAML document
 * (`'result: !aiida_node ''<uuid>''\n'`); rejects with the exception message when it excepted or was killed.
 */
export async function endedAnswer(node: ProcessNode): Promise<string> {
  if (node.processState !== 'finished') throw failure(node);
  return dumpYaml(await outputLinks(node, labelToPath), { resolveEntity: resolveAiidaEntity });
}
