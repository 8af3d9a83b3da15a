import { applyMutation, spread, type ShardValue } from '../src';

const shard = (available: number): ShardValue => ({ available, generation: 1, ops: {} });

describe('shard mutations', () => {
  it('when units are taken, then never more than the shard has, and the same op id takes only once', () => {
    const s = shard(3);
    expect(applyMutation(s, { kind: 'take', opId: 'a', max: 5 }, 1)).toBe(3);
    expect(applyMutation(s, { kind: 'take', opId: 'a', max: 5 }, 2)).toBe(3);
    expect(applyMutation(s, { kind: 'take', opId: 'b', max: 1 }, 3)).toBe(0);
    expect(s).toEqual({ available: 0, generation: 1, ops: { a: { units: -3, at: 1 } } });
  });

  it('when an op is settled, then kept units stay gone, undone units come back, and settling twice changes nothing', () => {
    const s = shard(5);
    applyMutation(s, { kind: 'take', opId: 'kept', max: 2 }, 1);
    applyMutation(s, { kind: 'take', opId: 'undone', max: 1 }, 1);
    expect(applyMutation(s, { kind: 'settle', opId: 'kept', undo: false }, 2)).toBe(true);
    expect(applyMutation(s, { kind: 'settle', opId: 'undone', undo: true }, 2)).toBe(true);
    expect(applyMutation(s, { kind: 'settle', opId: 'undone', undo: true }, 3)).toBe(false);
    expect(s).toEqual({ available: 3, generation: 1, ops: {} });
  });

  it('when units are given twice under one op id, then they are added once', () => {
    const s = shard(0);
    expect(applyMutation(s, { kind: 'give', opId: 'g', units: 4 }, 1)).toBe(true);
    expect(applyMutation(s, { kind: 'give', opId: 'g', units: 4 }, 1)).toBe(false);
    expect(s.available).toBe(4);
  });

  it('when stock is spread over shards, then the shares differ by at most one and add up', () => {
    expect(spread(10, 4)).toEqual([3, 3, 2, 2]);
    expect(spread(3, 8).reduce((a, b) => a + b, 0)).toBe(3);
  });
});
