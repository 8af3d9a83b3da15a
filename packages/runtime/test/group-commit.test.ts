import { GroupCommit } from '../src/group-commit';

describe('group commit', () => {
  it('when items come while a batch is written, then they are written together by the next batch, each answered in order', async () => {
    const batches: number[][] = [];
    let writing!: () => void;
    const firstBatchWriting = new Promise<void>((resolve) => (writing = resolve));
    const group = new GroupCommit<number, string>(async (items) => {
      batches.push(items);
      writing();
      await new Promise((resolve) => setTimeout(resolve, 20));
      return items.map((i) => `done ${i}`);
    }, 3);
    const first = [1, 2].map((i) => group.submit(i));
    // The later items come once the first batch is being written (a fixed wait raced the batch's start on a busy machine).
    await firstBatchWriting;
    const later = [3, 4, 5, 6].map((i) => group.submit(i));
    expect(await Promise.all([...first, ...later])).toEqual([1, 2, 3, 4, 5, 6].map((i) => `done ${i}`));
    // The first turn's two together; the four that came meanwhile in batches of at most three.
    expect(batches).toEqual([[1, 2], [3, 4, 5], [6]]);
  });

  it('when one item is refused, then only that item fails', async () => {
    const group = new GroupCommit<number, number>(async (items) => items.map((i) => (i === 2 ? new Error('no 2') : i * 10)), 10);
    const answers = await Promise.allSettled([1, 2, 3].map((i) => group.submit(i)));
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([10, 'no 2', 30]);
  });

  it('when a whole batch fails, then each item is written again alone and only the one that fails alone is refused', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      if (items.includes(2)) throw new Error(`batch ${items.join(',')} failed`);
      return items;
    }, 10);
    const answers = await Promise.allSettled([1, 2, 3].map((i) => group.submit(i)));
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([1, 'batch 2 failed', 3]);
    expect(batches).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('when two batches may be in flight, then items that come while one is written go out in the second at once, and the rest wait for a free one', async () => {
    const batches: number[][] = [];
    let writing = 0;
    let mostAtOnce = 0;
    const group = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      mostAtOnce = Math.max(mostAtOnce, ++writing);
      await new Promise((resolve) => setTimeout(resolve, 20));
      writing--;
      return items;
    }, 3, 2);
    const first = [1, 2].map((i) => group.submit(i));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = [3, 4].map((i) => group.submit(i));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = [5, 6, 7, 8].map((i) => group.submit(i));
    expect(await Promise.all([...first, ...second, ...later])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mostAtOnce).toBe(2);
    expect(batches).toEqual([[1, 2], [3, 4], [5, 6, 7], [8]]);
  });
});
