import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Codes carry what they are for (email verification or password reset), looked up per user and purpose; the login
 * counters' table becomes the table of every rate limit of the service, purged of expired counters by a job.
 */
export class CodePurposesAndRateLimits1764700000000 implements MigrationInterface {
  name = 'CodePurposesAndRateLimits1764700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE verification_codes
      ADD COLUMN purpose VARCHAR(16) NOT NULL DEFAULT 'verify-email' AFTER user_id,
      ADD KEY verification_codes_user_purpose (user_id, purpose)`);
    // Codes replaced before this release are dead weight: a new code now deletes the ones before it.
    await db.query('DELETE FROM verification_codes WHERE replaced_at IS NOT NULL OR consumed_at IS NOT NULL OR expires_at < NOW(3)');
    await db.query('RENAME TABLE login_limits TO rate_limits');
    await db.query('DELETE FROM rate_limits');
    // The purge job finds expired counters by this index.
    await db.query('ALTER TABLE rate_limits ADD KEY rate_limits_expire (expire)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE rate_limits DROP KEY rate_limits_expire');
    await db.query('RENAME TABLE rate_limits TO login_limits');
    await db.query('ALTER TABLE verification_codes DROP KEY verification_codes_user_purpose, DROP COLUMN purpose');
  }
}
