import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A session's own budget (limits on what one attempt may spend) and the model its current attempt
 * ran on (its model, or a fallback model when the primary was at quota or saturated).
 */
export class SessionBudget1770000000003 implements MigrationInterface {
  name = 'SessionBudget1770000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions ADD COLUMN budget jsonb NULL, ADD COLUMN model_used varchar(200) NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP COLUMN budget, DROP COLUMN model_used`);
  }
}
