/**
 * Group commit: what is submitted while batches are being written waits, and the next batch writes it all at once
 * (`maxInFlight` batches at a time, one by default; at most `maxBatch` items each). `write` answers every item of its
 * batch, in order; an Error answer rejects that item alone. A batch that throws is written again one item at a time,
 * so one item cannot fail the others: `write` must decide each item afresh from what is stored (it runs again after
 * an unknown outcome), and with more than one batch in flight it must lock what it changes.
 */
export class GroupCommit<I, O> {
  private readonly waiting: { item: I; resolve(answer: O): void; reject(err: unknown): void }[] = [];
  private inFlight = 0;
  private gathering = false;

  constructor(
    private readonly write: (items: I[]) => Promise<(O | Error)[]>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: I): Promise<O> {
    const answer = new Promise<O>((resolve, reject) => this.waiting.push({ item, resolve, reject }));
    if (!this.gathering && this.inFlight < this.maxInFlight) {
      this.gathering = true;
      // Let what is submitted in this turn of the event loop join the batch.
      setImmediate(() => {
        this.gathering = false;
        this.startBatches();
      });
    }
    return answer;
  }

  private startBatches(): void {
    while (this.waiting.length && this.inFlight < this.maxInFlight) {
      this.inFlight++;
      void this.writeBatch(this.waiting.splice(0, this.maxBatch)).finally(() => {
        this.inFlight--;
        this.startBatches();
      });
    }
  }

  private async writeBatch(batch: GroupCommit<I, O>['waiting']): Promise<void> {
    try {
      const answers = await this.write(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const answer = answers[i]!;
        if (answer instanceof Error) w.reject(answer);
        else w.resolve(answer);
      });
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else await Promise.all(batch.map((w) => this.writeBatch([w])));
    }
  }
}
