import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import type { Row } from './rows';

type Connection = Pick<PoolClient, 'query'>;

/**
 * A transaction on a connection of its own whose statements travel two to a round trip: BEGIN with the first one,
 * the last one with COMMIT. The pool's connections run in pg's pipeline mode (see createDataSource): queries issued
 * together are written together and answered in order, each closed by its own Sync, so an error in one leaves the
 * connection in step. A statement that fails aborts the transaction; the COMMIT sent behind it then rolls back.
 */
export class PipelinedTransaction {
  private constructor(private readonly connection: Connection) {}

  /**
   * Runs `work` on a connection checked out through a TypeORM QueryRunner. If `work` throws, the transaction is
   * rolled back. While the runner holds the connection, TypeORM listens for its 'error' event and releases it with
   * that error, so a connection lost mid-transaction rejects the pending queries, never crashes the process, and is
   * dropped from the pool instead of reused.
   */
  static async run<T>(dataSource: DataSource, work: (tx: PipelinedTransaction) => Promise<T>): Promise<T> {
    const runner = dataSource.createQueryRunner();
    try {
      const connection = (await runner.connect()) as Connection;
      try {
        return await work(new PipelinedTransaction(connection));
      } catch (error) {
        // Harmless when the transaction already ended; fails only when the connection is gone (then released).
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  /** BEGIN, then `text`, in one round trip; `text`'s rows. */
  async begin(text: string, params: unknown[]): Promise<Row[]> {
    const [, result] = await Promise.all([this.connection.query('BEGIN'), this.connection.query<Row>(text, params)]);
    return result.rows;
  }

  /** `text`, then COMMIT, in one round trip; `text`'s rows. If `text` fails, nothing of the transaction stays. */
  async commitAfter(text: string, params: unknown[]): Promise<Row[]> {
    const [result] = await Promise.all([this.connection.query<Row>(text, params), this.connection.query('COMMIT')]);
    return result.rows;
  }

  async commit(): Promise<void> {
    await this.connection.query('COMMIT');
  }
}
