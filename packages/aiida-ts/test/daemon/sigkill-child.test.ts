/**
 * A daemon worker SIGKILLed right after a step stored a submitted child and before the child's first checkpoint
 * (fault point `child-stored`): the step replayed by another worker makes the child's process for the stored node —
 * the child is neither marked excepted nor made a second time.
 */
import { describe, expect, it } from 'vitest';
import { processStateColumn } from '../../src/engine/daemon/task-table.js';
import { FAULT_POINT_ENV, FaultPoint } from '../../src/engine/fault-point.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { Parent } from './fixtures.js';
import { useKilledMidStep } from './kill-mid-step.js';

describe.each(['sqlite', 'psql'] as const)(
  'a daemon worker SIGKILLed after storing a child on %s',
  (backend) => {
    const { shared, killedMidStep } = useKilledMidStep(backend);

    it(
      'neither duplicates nor excepts a child stored by the lost step before its first checkpoint',
      { timeout: 60_000 },
      async () => {
        await killedMidStep(
          (file) => ({ [FAULT_POINT_ENV]: `${FaultPoint.CHILD_STORED}=${file}` }),
          (runner) => runner.submit(Parent, { x: new Int(5) }),
          async (done) => {
            const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel(
              'result',
            );
            // child: (5 + 1) * 2 = 12; + 1
            expect((result as Int).value).toBe(13);
            const children = (await done.base.links.getOutgoing({ linkType: 'call_work' })).all();
            expect(children).toHaveLength(1);
            expect((children[0]!.node as ProcessNode).processState).toBe('finished');
            // nothing excepted anywhere (the stored child was not marked excepted and made again)
            const excepted = await shared()
              .storage.executor()
              .selectFrom('db_dbnode')
              .select('id')
              .where(processStateColumn(shared().storage), '=', 'excepted')
              .execute();
            expect(excepted).toEqual([]);
          },
        );
      },
    );
  },
);
