import { describe, expect, it } from 'vitest';
import {
  IntegrityError,
  InvalidOperationError,
  ModificationNotAllowedError,
  NotExistentError,
  StoringNotAllowedError,
  ValidationError,
} from '../../src/errors.js';
import {
  AuthInfo,
  AutoGroup,
  Bool,
  Comment,
  Computer,
  Data,
  Group,
  GroupPath,
  ImportGroup,
  Int,
  loadGroup,
  loadNode,
  Log,
  Str,
  User,
} from '../../src/orm.js';
import { BACKENDS } from '../storage/helpers.js';
import { useStorage } from './setup.js';

let counter = 0;
const unique = (prefix: string): string => `${prefix}-${process.pid}-${Date.now()}-${(counter += 1)}`;

/** A group class nobody registered. */
class UnregisteredGroup extends Group {
  static override readonly typeString: string = 'plugin.unregistered';
}

function localComputer(label = unique('computer')): Computer {
  return new Computer({
    label,
    hostname: 'localhost',
    transportType: 'core.local',
    schedulerType: 'core.direct',
  });
}

describe.each(BACKENDS)('entities on $name', ({ open }) => {
  const storage = useStorage(open);

  describe('users', () => {
    it('have a unique email; the profile default user is created on demand', async () => {
      const me = await User.getDefault();
      expect(me.email).toBe(storage().defaultUserEmail);
      expect(me.isDefault()).toBe(true);
      const other = await new User({
        email: unique('other') + '@Example.COM',
        firstName: 'Ada',
        lastName: 'L',
      }).store();
      expect(other.email.endsWith('@example.com')).toBe(true);
      expect(other.isDefault()).toBe(false);
      expect(other.getShortName()).toBe('Ada L');
      await expect(new User({ email: other.email }).store()).rejects.toBeInstanceOf(IntegrityError);
      await other.update({ institution: 'EPFL' });
      expect((await User.get(other.email)).institution).toBe('EPFL');
      expect((await User.getOrCreate({ email: other.email })).created).toBe(false);
      await expect(User.get('nobody@x')).rejects.toBeInstanceOf(NotExistentError);
      expect(() => new User({ email: ' ' })).toThrow(ValidationError);
    });
  });

  describe('computers and authinfos', () => {
    it('keep metadata with aiida-core defaults and validate it', async () => {
      const computer = localComputer();
      expect(computer.getWorkdir()).toBe('/scratch/{username}/aiida_run/');
      expect(computer.getShebang()).toBe('#!/bin/bash');
      expect(computer.getMpirunCommand()).toEqual(['mpirun', '-np', '{tot_num_mpiprocs}']);
      expect(computer.getMinimumJobPollInterval()).toBe(10);
      await computer.setProperties({ minimum_scheduler_poll_interval: 0, default_mpiprocs_per_machine: 1 });
      await computer.store();
      await computer.setProperties({ workdir: '/tmp/{username}/work/' });
      const loaded = await Computer.get({ uuid: computer.uuid });
      expect(loaded.metadata).toEqual({
        minimum_scheduler_poll_interval: 0,
        default_mpiprocs_per_machine: 1,
        workdir: '/tmp/{username}/work/',
      });
      expect(loaded.getMinimumJobPollInterval()).toBe(0);
      await expect(loaded.setProperties({ workdir: 'relative/path' })).rejects.toThrow(/absolute/);
      await expect(loaded.setProperties({ workdir: '/x/{unknown}/' })).rejects.toThrow(
        /unknown replacement field/,
      );
      await expect(loaded.setProperties({ mpirun_command: 'mpirun' })).rejects.toThrow(/list of strings/);
      await expect(loaded.setProperties({ shebang: 'bash' })).rejects.toThrow(/#!/);
      await expect(localComputer(computer.label).store()).rejects.toBeInstanceOf(IntegrityError);
      await expect(
        new Computer({
          label: 'x',
          hostname: '',
          transportType: 'core.local',
          schedulerType: 'core.direct',
        }).store(),
      ).rejects.toThrow(ValidationError);
      await loaded.update({ description: 'changed' });
      expect((await Computer.get({ label: computer.label })).description).toBe('changed');
    });

    it('are configured per user through AuthInfo; deleting a computer removes its authinfos', async () => {
      const computer = await localComputer().store();
      expect(await computer.isUserConfigured()).toBe(false);
      const error = await computer.getAuthInfo().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotExistentError);
      expect((error as Error).message).toContain(`Computer \`${computer.label}\` (ID=${computer.pk})`);
      expect((error as Error).message).toContain('verdi computer configure');
      const info = await computer.configure({ safe_interval: 100 });
      expect(info.getAuthParams()).toEqual({ safe_interval: 100 });
      expect(await computer.isUserConfigured()).toBe(true);
      expect(await computer.isUserEnabled()).toBe(true);
      await (await computer.getAuthInfo()).setEnabled(false);
      expect(await computer.isUserEnabled()).toBe(false);
      await computer.configure({ use_login_shell: false });
      expect((await computer.getAuthInfo()).getAuthParams()).toEqual({
        safe_interval: 100,
        use_login_shell: false,
      });
      await Computer.delete(computer.pk!);
      await expect(Computer.get({ pk: computer.pk! })).rejects.toBeInstanceOf(NotExistentError);
      await expect(AuthInfo.delete(info.pk!)).rejects.toBeInstanceOf(NotExistentError);
    });

    it('cannot be deleted while nodes use them', async () => {
      const computer = await localComputer().store();
      await new Data(undefined, { computer }).store();
      await expect(Computer.delete(computer.pk!)).rejects.toBeInstanceOf(InvalidOperationError);
    });
  });

  describe('groups', () => {
    it('need storing before members are added; members must be stored', async () => {
      const group = new Group({ label: unique('g') });
      const node = await new Int(1).store();
      await expect(group.addNodes(node)).rejects.toBeInstanceOf(ModificationNotAllowedError);
      await group.store();
      await expect(group.addNodes(new Int(2))).rejects.toBeInstanceOf(ValidationError);
      await group.addNodes(node);
      await group.addNodes([node]);
      await group.addNodes([]);
      expect(await group.count()).toBe(1);
      expect((await group.nodes())[0]!.uuid).toBe(node.uuid);
    });

    it('add and remove many nodes, page through them, and clear', async () => {
      const group = await new Group({ label: unique('many') }).store();
      const nodes = await Int.storeMany(Array.from({ length: 100 }, (_, i) => new Int(i)));
      await group.addNodes(nodes);
      expect(await group.count()).toBe(100);
      expect((await group.nodes({ limit: 10, offset: 5 })).map((n) => (n as Int).value)).toEqual([
        5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
      ]);
      await group.removeNodes(nodes.slice(0, 50));
      await group.removeNodes(nodes.slice(0, 10));
      expect(await group.count()).toBe(50);
      await group.clear();
      expect(await group.isEmpty()).toBe(true);
    });

    it('have labels unique per type string, editable before and after storing', async () => {
      const label = unique('label');
      const group = new Group({ label, description: 'first' });
      await group.setLabel(`${label}-renamed`);
      await group.store();
      await group.setDescription('second');
      const loaded = await Group.get({ label: `${label}-renamed` });
      expect(loaded.description).toBe('second');
      expect(loaded.isUserDefined).toBe(true);
      await expect(new Group({ label: `${label}-renamed` }).store()).rejects.toBeInstanceOf(IntegrityError);
      const other = await new Group({ label: `${label}-other` }).store();
      await expect(other.setLabel(`${label}-renamed`)).rejects.toBeInstanceOf(IntegrityError);
      expect(other.label).toBe(`${label}-other`);
      // the same label is fine for another type
      await new AutoGroup({ label: `${label}-renamed` }).store();
    });

    it('come back as their subclass; unregistered subclasses cannot be stored', async () => {
      const auto = await new AutoGroup({ label: unique('auto') }).store();
      const imported = await new ImportGroup({ label: unique('import') }).store();
      expect(auto.typeString).toBe('core.auto');
      expect(await loadGroup(auto.pk!)).toBeInstanceOf(AutoGroup);
      expect(await loadGroup(imported.uuid)).toBeInstanceOf(ImportGroup);
      expect(await loadGroup(imported.label)).toBeInstanceOf(ImportGroup);
      expect((await AutoGroup.getOrCreate({ label: auto.label })).group).toBeInstanceOf(AutoGroup);
      expect((await AutoGroup.all()).every((g) => g instanceof AutoGroup)).toBe(true);
      await expect(new UnregisteredGroup({ label: 'x' }).store()).rejects.toBeInstanceOf(
        StoringNotAllowedError,
      );
      await expect(loadGroup('no-such-group-anywhere')).rejects.toBeInstanceOf(NotExistentError);
    });

    it('keep extras like nodes do', async () => {
      const group = await new Group({ label: unique('extras') }).store();
      await group.extras.set('purpose', 'fixtures');
      await group.extras.setMany({ a: 1, b: 2 });
      await group.extras.deleteMany(['a']);
      expect(() => group.extras.deleteMany(['b', 'missing'])).toThrow(NotExistentError);
      expect((await Group.get({ pk: group.pk! })).extras.all()).toEqual({ purpose: 'fixtures', b: 2 });
      expect(() => group.extras.set('a.b', 1)).toThrow(ValidationError);
    });

    it('are deleted without their nodes', async () => {
      const group = await new Group({ label: unique('deleted') }).store();
      const node = await new Int(1).store();
      await group.addNodes(node);
      await Group.delete(group.pk!);
      await expect(Group.get({ pk: group.pk! })).rejects.toBeInstanceOf(NotExistentError);
      expect((await loadNode(node.pk!)).uuid).toBe(node.uuid);
    });

    it('form a path hierarchy', async () => {
      const root = unique('tree');
      for (const label of [`${root}/a`, `${root}/a/b`, `${root}/c/d`]) await new Group({ label }).store();
      const path = new GroupPath(root);
      expect((await path.children()).map((c) => c.path)).toEqual([`${root}/a`, `${root}/c`]);
      const all: string[] = [];
      for await (const child of path.walk()) all.push(child.path);
      expect(all).toEqual([`${root}/a`, `${root}/a/b`, `${root}/c`, `${root}/c/d`]);
      expect(await path.get('c').isVirtual()).toBe(true);
      expect(await path.get('a').isVirtual()).toBe(false);
      expect(path.get('a').get('b').parent!.path).toBe(`${root}/a`);
      const created = await path.get('c').getOrCreateGroup();
      expect(created.label).toBe(`${root}/c`);
      expect(() => new GroupPath('/abs')).toThrow(ValidationError);
    });
  });

  describe('comments', () => {
    it('belong to stored nodes, are ordered, editable and removable', async () => {
      expect(() => new Comment({ node: new Int(1), content: 'x' })).toThrow(ModificationNotAllowedError);
      const node = await new Str('x').store();
      const first = await node.comments.add('first ✓');
      const second = await node.comments.add('second');
      expect((await node.comments.all()).map((c) => c.content)).toEqual(['first ✓', 'second']);
      expect((await first.getUser()).email).toBe(storage().defaultUserEmail);
      const mtime = first.mtime!;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const updated = await node.comments.update(first.pk!, 'edited');
      expect(updated.content).toBe('edited');
      expect(updated.mtime!.getTime()).toBeGreaterThan(mtime.getTime());
      expect((await Comment.get(first.pk!)).content).toBe('edited');
      await node.comments.remove(second.pk!);
      await expect(Comment.get(second.pk!)).rejects.toBeInstanceOf(NotExistentError);
      await expect(Comment.delete(second.pk!)).rejects.toThrow(`Comment with id '${second.pk}' not found`);
      await expect(Comment.deleteMany({})).rejects.toBeInstanceOf(ValidationError);
      expect(await Comment.deleteMany({ ids: [9_999_999] })).toEqual([]);
      expect(await Comment.deleteMany({ nodeId: node.pk! })).toEqual([first.pk]);
    });
  });

  describe('logs', () => {
    it('are stored at once, found per node, and deleted', async () => {
      const node = await new Bool(true).store();
      const log = await Log.create({
        node,
        message: 'hello',
        levelname: 'WARNING',
        metadata: { fn: () => 1, ok: 1 },
      });
      expect(log.metadata).toEqual({ ok: 1 });
      await Log.create({ node, message: 'later', time: new Date(Date.now() + 1000) });
      expect((await Log.find({ nodeId: node.pk! })).map((l) => l.message)).toEqual(['hello', 'later']);
      expect((await Log.find({ nodeId: node.pk!, order: 'desc', limit: 1 })).map((l) => l.message)).toEqual([
        'later',
      ]);
      await expect(Log.create({ node: new Int(1), message: 'x' })).rejects.toBeInstanceOf(ValidationError);
      await expect(Log.create({ node, message: 'x', metadata: 'text' as never })).rejects.toThrow(
        ValidationError,
      );
      await Log.delete(log.pk);
      await expect(Log.delete(log.pk)).rejects.toBeInstanceOf(NotExistentError);
      expect(await Log.deleteMany({ nodeId: node.pk! })).toHaveLength(1);
    });
  });
});
