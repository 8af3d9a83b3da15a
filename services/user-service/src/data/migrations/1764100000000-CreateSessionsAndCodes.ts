import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSessionsAndCodes1764100000000 implements MigrationInterface {
  name = 'CreateSessionsAndCodes1764100000000';

  async up(db: QueryRunner): Promise<void> {
    // Same table options as users (no explicit collation): foreign keys need matching collations.
    await db.query(`CREATE TABLE verification_codes (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id CHAR(36) NOT NULL,
      code_digest CHAR(64) NOT NULL,
      expires_at DATETIME(3) NOT NULL,
      consumed_at DATETIME(3) NULL,
      replaced_at DATETIME(3) NULL,
      failed_attempts INT NOT NULL DEFAULT 0,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY verification_codes_user (user_id),
      CONSTRAINT verification_codes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await db.query(`CREATE TABLE sessions (
      id CHAR(36) NOT NULL PRIMARY KEY,
      user_id CHAR(36) NOT NULL,
      created_at DATETIME(3) NOT NULL,
      revoked_at DATETIME(3) NULL,
      revoked_reason VARCHAR(32) NULL,
      KEY sessions_user_live (user_id, revoked_at),
      KEY sessions_revoked (revoked_at),
      CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await db.query(`CREATE TABLE refresh_tokens (
      token_hash CHAR(64) NOT NULL PRIMARY KEY,
      session_id CHAR(36) NOT NULL,
      expires_at DATETIME(3) NOT NULL,
      used_at DATETIME(3) NULL,
      KEY refresh_tokens_session (session_id),
      CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await db.query(`CREATE TABLE signing_keys (
      kid VARCHAR(64) NOT NULL PRIMARY KEY,
      public_jwk TEXT NOT NULL,
      private_jwk TEXT NOT NULL,
      created_at DATETIME(3) NOT NULL,
      retired_at DATETIME(3) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    // rate-limiter-flexible's table layout (RateLimiterMySQL with tableCreated: true).
    await db.query(`CREATE TABLE login_limits (
      \`key\` VARCHAR(255) CHARACTER SET utf8 NOT NULL PRIMARY KEY,
      points INT NOT NULL DEFAULT 0,
      expire BIGINT UNSIGNED
    ) ENGINE=InnoDB`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['login_limits', 'signing_keys', 'refresh_tokens', 'sessions', 'verification_codes']) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}
