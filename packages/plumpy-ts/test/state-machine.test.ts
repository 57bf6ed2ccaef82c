import { describe, expect, it } from 'vitest';
import {
  ALLOWED,
  StateEntryFailed,
  StateMachine,
  TransitionFailedError,
  isTerminal,
  transition,
  type AllowedTable,
  type MachineState,
} from '../src/index.js';

// plumpy's CD player (tests/base/test_statemachine.py), as a typed machine.
type Label = 'stopped' | 'playing' | 'paused';
const PLAYER_ALLOWED = {
  stopped: ['playing'],
  playing: ['paused', 'stopped'],
  paused: ['playing', 'stopped'],
} as const satisfies AllowedTable<Label>;

class Playing implements MachineState<Label> {
  readonly label = 'playing' as const;
  readonly track: string;
  constructor(track: string) {
    if (track === '') throw new Error('Must provide a track name');
    this.track = track;
  }
}
class Paused implements MachineState<Label> {
  readonly label = 'paused' as const;
  readonly playing: Playing;
  constructor(playing: Playing) {
    this.playing = playing;
  }
}
class Stopped implements MachineState<Label> {
  readonly label = 'stopped' as const;
}
type PlayerState = Playing | Paused | Stopped;

class CdPlayer {
  readonly log: string[] = [];
  readonly machine = new StateMachine<Label, PlayerState>({
    allowed: PLAYER_ALLOWED,
    initial: 'stopped',
    hooks: {
      exiting: (current, next) => this.log.push(`exiting ${current.label} for ${next.label}`),
      entering: (next) => this.log.push(`entering ${next.label}`),
      entered: (previous, current) =>
        this.log.push(`entered ${current.label} from ${previous?.label ?? 'None'}`),
    },
  });

  constructor() {
    this.machine.transitionTo(new Stopped());
  }

  get state(): Label | undefined {
    return this.machine.label;
  }

  play(track?: string): boolean {
    const state = this.machine.state;
    if (state instanceof Playing) return false;
    if (state instanceof Paused && track === undefined) this.machine.transitionTo(state.playing);
    else this.machine.transitionTo(new Playing(track ?? ''));
    return true;
  }

  pause(): void {
    const state = this.machine.state;
    if (!(state instanceof Playing)) throw new Error('can only pause while playing');
    this.machine.transitionTo(new Paused(state));
  }

  stop(): void {
    this.machine.transitionTo(new Stopped());
  }
}

describe('StateMachine', () => {
  it('runs the basic CD player sequence (plumpy test_basic)', () => {
    const player = new CdPlayer();
    expect(player.state).toBe('stopped');
    player.play('Eminem - The Real Slim Shady');
    expect(player.state).toBe('playing');
    player.pause();
    expect(player.state).toBe('paused');
    player.play();
    expect(player.state).toBe('playing');
    expect((player.machine.state as Playing).track).toBe('Eminem - The Real Slim Shady');
    expect(player.play()).toBe(false);
    player.stop();
    expect(player.state).toBe('stopped');
  });

  it('rejects an invalid event (plumpy test_invalid_event)', () => {
    const player = new CdPlayer();
    expect(() => player.play()).toThrow('Must provide a track name');
    expect(player.state).toBe('stopped');
  });

  it('fires hooks in plumpy order', () => {
    const player = new CdPlayer();
    player.play('a');
    expect(player.log).toEqual([
      'entering stopped',
      'entered stopped from None',
      'exiting stopped for playing',
      'entering playing',
      'entered playing from stopped',
    ]);
  });

  it('refuses a transition the table forbids and names both states', () => {
    const player = new CdPlayer();
    let error: unknown;
    try {
      player.machine.transitionTo(new Paused(new Playing('x')));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TransitionFailedError);
    expect((error as TransitionFailedError).from).toBe('stopped');
    expect((error as TransitionFailedError).to).toBe('paused');
    expect((error as Error).message).toContain("'stopped'");
    expect((error as Error).message).toContain("'paused'");
    expect(player.state).toBe('stopped');
  });

  it('requires the initial state first', () => {
    const machine = new StateMachine<Label, PlayerState>({ allowed: PLAYER_ALLOWED, initial: 'stopped' });
    expect(() => machine.transitionTo(new Playing('x'))).toThrow(TransitionFailedError);
    expect(machine.state).toBeUndefined();
  });

  it('queues transitions requested from hooks (first in, first out)', () => {
    const order: string[] = [];
    const machine: StateMachine<Label, PlayerState> = new StateMachine<Label, PlayerState>({
      allowed: PLAYER_ALLOWED,
      initial: 'stopped',
      hooks: {
        entered: (_previous, current) => {
          order.push(`entered ${current.label}`);
          if (current.label === 'playing') {
            machine.transitionTo(new Paused(current));
            machine.transitionTo(new Stopped());
            // Not yet: the current transition finishes first.
            order.push(`still ${machine.label ?? ''}`);
          }
        },
      },
    });
    machine.transitionTo(new Stopped());
    machine.transitionTo(new Playing('x'));
    expect(order).toEqual([
      'entered stopped',
      'entered playing',
      'still playing',
      'entered paused',
      'entered stopped',
    ]);
    expect(machine.transitioning).toBe(false);
  });

  it('enters the replacement state of StateEntryFailed', () => {
    const machine = new StateMachine<Label, PlayerState>({
      allowed: PLAYER_ALLOWED,
      initial: 'stopped',
      hooks: {
        entering: (next) => {
          if (next instanceof Paused) throw new StateEntryFailed(new Stopped());
        },
      },
    });
    machine.transitionTo(new Stopped());
    machine.transitionTo(new Playing('x'));
    machine.transitionTo(new Paused(machine.state as Playing));
    expect(machine.label).toBe('stopped');
  });

  it('hands failures to transitionFailed, which picks the state to land in', () => {
    const failures: string[] = [];
    const machine = new StateMachine<Label, PlayerState>({
      allowed: PLAYER_ALLOWED,
      initial: 'stopped',
      hooks: {
        entering: (next) => {
          if (next instanceof Playing && next.track === 'bad') throw new Error('scratched');
        },
        transitionFailed: (error, from, to) => {
          failures.push(`${from?.label ?? 'None'}->${to.label}: ${(error as Error).message}`);
          return new Stopped();
        },
      },
    });
    machine.transitionTo(new Stopped());
    machine.transitionTo(new Playing('bad'));
    expect(failures).toEqual(['stopped->playing: scratched']);
    expect(machine.label).toBe('stopped');
  });

  it('restores a state without hooks, only once', () => {
    const log: string[] = [];
    const machine = new StateMachine<Label, PlayerState>({
      allowed: PLAYER_ALLOWED,
      initial: 'stopped',
      hooks: { entered: () => log.push('entered') },
    });
    machine.restore(new Paused(new Playing('x')));
    expect(machine.label).toBe('paused');
    expect(log).toEqual([]);
    expect(() => machine.restore(new Stopped())).toThrow(TransitionFailedError);
  });
});

describe('transition (pure)', () => {
  it('checks labels against the table', () => {
    expect(transition(ALLOWED, 'created', undefined, 'created').ok).toBe(true);
    expect(transition(ALLOWED, 'created', undefined, 'running').ok).toBe(false);
    expect(transition(ALLOWED, 'created', 'created', 'running').ok).toBe(true);
    expect(transition(ALLOWED, 'created', 'created', 'waiting').ok).toBe(false);
    expect(transition(ALLOWED, 'created', 'waiting', 'finished').ok).toBe(true);
    const verdict = transition(ALLOWED, 'created', 'finished', 'running');
    expect(verdict.ok).toBe(false);
    if (!verdict.ok)
      expect(verdict.error.message).toBe(
        "cannot transition from 'finished' to 'running': 'finished' is terminal",
      );
  });

  it("has plumpy's process table", () => {
    expect(ALLOWED).toEqual({
      created: ['running', 'killed', 'excepted'],
      running: ['running', 'waiting', 'finished', 'killed', 'excepted'],
      waiting: ['running', 'waiting', 'killed', 'excepted', 'finished'],
      finished: [],
      excepted: [],
      killed: [],
    });
    expect(['finished', 'excepted', 'killed'].every((l) => isTerminal(ALLOWED, l as 'finished'))).toBe(true);
    expect(isTerminal(ALLOWED, 'waiting')).toBe(false);
  });
});
