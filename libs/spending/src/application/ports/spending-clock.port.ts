/** What time it is, for the ledger's UTC day (replaced in tests). */
export type SpendingClock = () => Date;
export const SPENDING_CLOCK = Symbol('SPENDING_CLOCK');
