import { withStack } from '../load/bench/stack';
import { DRILLS } from '../load/drills/catalogue';
import { drillRow } from '../load/drills/main';

const drill = (name: string) => DRILLS.find((d) => d.name === name)!;

/**
 * Two of `npm run drill`'s drills, on a whole `npm start` stack of its own (its supervisor, real sidecars, the edge):
 * 300 buyers, 150 units, the fault 0.3 s after the opening; the drill's checks (see load/drills/outcome.ts) are the
 * assertions.
 */
describe('fault drills: a process or a store dies in the opening second of a sale', () => {
  it('when purchase-service is killed with kill -9 mid-sale, and when Redis loses every key mid-sale, then nothing is oversold, lost or stranded and every buyer has a final answer within 5 s', async () => {
    await withStack(async (stack) => {
      const killed = await drill('purchase-kill').run(stack);
      // The supervisor saw the death and restarted the service, as Kubernetes would.
      expect(stack.output()).toMatch(/purchase-service died \(SIGKILL\); restarting in/);
      expect(stack.output()).toMatch(/purchase-service restarted \(restart 1, pid \d+\)/);
      const lost = await drill('redis-loss').run(stack);
      process.stdout.write(`${[killed, lost].map((r) => `| ${drillRow(r).join(' | ')} |`).join('\n')}\n`);

      for (const result of [killed, lost]) {
        expect({ drill: result.drill, failures: result.failures }).toEqual({ drill: result.drill, failures: [] });
        // The fault struck mid-sale: units were still to sell.
        expect(result.figures.heldBeforeFault).toBeLessThan(150);
      }
      // Buyers felt the kill and retried through it: a 503 with Retry-After from the edge while the service was down,
      // or their connection closed without an answer when the service died under their request.
      expect((killed.answers['503 SERVICE_UNAVAILABLE'] ?? 0) + (killed.answers.none ?? 0)).toBeGreaterThan(0);
    });
  }, 400_000);
});
