import { maildevCli } from './paths';
import { freePorts, httpOk, startProcess, waitUntil, type Managed } from './processes';

/** A message as MailDev 2's JSON API shows it. */
export interface CaughtMail {
  id: string;
  subject: string;
  text: string;
  to: { address: string; name: string }[];
  date: string;
}

export interface MailCatcher {
  process: Managed;
  smtpPort: number;
  webPort: number;
  /** Messages caught so far for one recipient, oldest first. */
  mailTo(address: string): Promise<CaughtMail[]>;
  /** Waits until `count` messages for the recipient have arrived. */
  waitForMail(address: string, count?: number, timeoutMs?: number): Promise<CaughtMail[]>;
  stop(): Promise<void>;
}

/** The messages a MailDev at `webBase` (e.g. http://127.0.0.1:1080) caught for one recipient, oldest first. */
export async function caughtMail(webBase: string, address: string): Promise<CaughtMail[]> {
  const all = (await (await fetch(`${webBase}/email`)).json()) as CaughtMail[];
  return all.filter((m) => m.to.some((t) => t.address.toLowerCase() === address.toLowerCase()));
}

/** The code of a verification email (see user-service's Accounts.sendCode). */
export const verificationCodeIn = (text: string): string | undefined => /code is (\d{6})/.exec(text)?.[1];

/** Starts MailDev (SMTP in, web UI and JSON API out) and waits until it answers. */
export async function startMailCatcher(options: { smtpPort?: number; webPort?: number; logFile?: string } = {}): Promise<MailCatcher> {
  const [freeSmtp, freeWeb] = await freePorts(2);
  const smtpPort = options.smtpPort ?? freeSmtp!;
  const webPort = options.webPort ?? freeWeb!;
  const process = startProcess(
    'maildev',
    globalThis.process.execPath,
    [maildevCli, '--ip', '127.0.0.1', '--smtp', String(smtpPort), '--web', String(webPort)],
    { logFile: options.logFile },
  );
  const api = `http://127.0.0.1:${webPort}/email`;
  await Promise.race([
    waitUntil('maildev', () => httpOk(api)),
    process.exited.then((code) => {
      throw new Error(`maildev exited (${code}) during start-up:\n${process.output()}`);
    }),
  ]);
  const mailTo = (address: string) => caughtMail(`http://127.0.0.1:${webPort}`, address);
  return {
    process,
    smtpPort,
    webPort,
    mailTo,
    async waitForMail(address, count = 1, timeoutMs = 10_000) {
      let found: CaughtMail[] = [];
      await waitUntil(`${count} email(s) to ${address}`, async () => (found = await mailTo(address)).length >= count, timeoutMs, 100);
      return found;
    },
    stop: () => process.stop(),
  };
}
